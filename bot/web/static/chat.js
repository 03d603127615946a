/* Bình Yên web chat: the browser side. Plain ES2020, no dependencies, works offline-first.
 * Talks JSON over one WebSocket; the server knows who we are from its cookie. */
(() => {
  'use strict';

  const $ = (id) => document.getElementById(id);
  const readJson = (id) => { try { return JSON.parse($(id).textContent) || {}; } catch { return {}; } };
  const ui = readJson('ui-strings');
  const cfg = readJson('chat-config');

  // Strings the server may add to `t`; these fallbacks only cover what the brief did not provide.
  const FALLBACK = cfg.lang === 'en'
    ? { location_denied: 'Location permission was denied. You can allow it in the browser settings, or skip.',
        location_unavailable: 'Your location is not available on this device or connection.' }
    : { location_denied: 'Bạn đã từ chối chia sẻ vị trí. Có thể cho phép trong cài đặt trình duyệt, hoặc bỏ qua.',
        location_unavailable: 'Không lấy được vị trí trên thiết bị hoặc kết nối này.' };
  const str = (key) => ui[key] || FALLBACK[key] || '';

  const MAX_LEN = 4000;
  const COUNTER_FROM = 3600; // show the counter only near the limit
  const PHOTO_MAX_PX = 1600;
  const LINK_SCHEMES = ['http:', 'https:', 'tel:'];

  const [log, statusEl, form, input, counter, photoBtn, photoInput, askEl] =
    ['log', 'status', 'composer', 'msg', 'counter', 'photo-btn', 'photo-input', 'ask'].map($);

  const el = (tag, cls, text) => {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text != null) node.textContent = text;
    return node;
  };
  const button = (label, cls, onClick) => {
    const b = Object.assign(el('button', cls, label), { type: 'button' });
    if (onClick) b.addEventListener('click', onClick);
    return b;
  };

  /* ---------- Sanitising the bot's HTML subset ---------- */

  const ALLOWED = new Set(['B', 'I', 'U', 'S', 'CODE', 'PRE', 'BLOCKQUOTE', 'A']);
  // Elements whose content is not readable text: drop them whole rather than unwrap.
  const DROP = new Set(['SCRIPT', 'STYLE', 'TEMPLATE', 'IFRAME', 'OBJECT', 'EMBED', 'NOSCRIPT',
    'SVG', 'MATH', 'TEXTAREA', 'SELECT']);

  function safeUrl(raw, schemes) {
    try {
      const url = new URL(String(raw), location.href); // the URL parser also defeats "java\tscript:" tricks
      return schemes.includes(url.protocol) ? url.href : null;
    } catch { return null; }
  }

  // A link element to a checked URL; web links open in a new tab so the chat stays open.
  function link(href, cls, text) {
    const a = el('a', cls, text);
    a.href = href;
    if (!href.startsWith('tel:')) { a.target = '_blank'; a.rel = 'noopener noreferrer'; }
    return a;
  }

  // Rebuild the parsed tree node by node in the live document: nothing from the input is
  // ever adopted, so no attribute or handler we did not create can slip through.
  function copySafe(from, to) {
    for (const node of from.childNodes) {
      if (node.nodeType === Node.TEXT_NODE) { to.append(node.data); continue; }
      if (node.nodeType !== Node.ELEMENT_NODE) continue;
      const tag = node.tagName.toUpperCase();
      if (tag === 'BR') { to.append('\n'); continue; }
      if (DROP.has(tag)) continue;
      if (!ALLOWED.has(tag)) { copySafe(node, to); continue; } // unknown tag: keep its text
      const href = tag === 'A' ? safeUrl(node.getAttribute('href') || '', LINK_SCHEMES) : null;
      if (tag === 'A' && !href) { copySafe(node, to); continue; } // unsafe link: plain text
      const clean = href ? link(href) : document.createElement(tag.toLowerCase());
      copySafe(node, clean);
      to.append(clean);
    }
  }

  function sanitize(html) {
    // DOMParser documents are inert: scripts never run and images never load.
    const doc = new DOMParser().parseFromString(`<!doctype html><body>${html}`, 'text/html');
    const frag = document.createDocumentFragment();
    copySafe(doc.body, frag);
    return frag;
  }

  /* ---------- Message list ---------- */

  // Follow new messages only while the reader is at the bottom, so scrolling back isn't hijacked.
  let stick = true;
  log.addEventListener('scroll', () => {
    stick = log.scrollHeight - log.scrollTop - log.clientHeight < 80;
  }, { passive: true });
  const scrollDown = (force) => { if (force || stick) log.scrollTop = log.scrollHeight; };
  // The list shrinks when the ask tray opens, the textarea grows or the phone keyboard appears.
  if (window.ResizeObserver) new ResizeObserver(() => scrollDown(false)).observe(log);

  function image(src) {
    const img = Object.assign(el('img'), { alt: ui.photo || '', decoding: 'async' });
    img.addEventListener('load', () => scrollDown(false)); // height changes once it loads
    img.src = src;
    return img;
  }

  function renderChoices(rows, wrap) {
    const box = el('div', 'choices');
    for (const row of rows) {
      if (!Array.isArray(row)) continue;
      const line = el('div', 'choice-row');
      for (const c of row) {
        if (!c || !c.label) continue;
        if (c.url) {
          const href = safeUrl(c.url, LINK_SCHEMES);
          if (href) line.append(link(href, 'choice', c.label));
          continue;
        }
        line.append(button(c.label, 'choice', (ev) => {
          if (!send({ type: 'choice', payload: c.payload, label: c.label })) return;
          wrap.querySelectorAll('.choices button').forEach((x) => { x.disabled = true; });
          ev.currentTarget.classList.add('chosen');
          addUser(c.label);
          if (ev.detail === 0) input.focus(); // keyboard press: the button just lost focus by being disabled
        }));
      }
      if (line.childElementCount) box.append(line);
    }
    return box;
  }

  // Returns false when the message is already on screen (same server id).
  function renderMessage(m) {
    if (m.id != null && log.querySelector(`[data-id="${CSS.escape(String(m.id))}"]`)) return false;
    const fromUser = m.from === 'user';
    const wrap = el('div', `msg ${fromUser ? 'user' : 'bot'}`);
    if (m.id != null) wrap.dataset.id = m.id;
    const bubble = el('div', 'bubble');
    const photo = m.photo_url && safeUrl(m.photo_url, ['http:', 'https:']);
    if (photo) {
      const a = link(photo, 'photo');
      a.append(image(photo));
      bubble.append(a);
    }
    if (m.text) {
      const text = el('div', 'text');
      text.append(sanitize(m.text));
      bubble.append(text);
    }
    const doc = m.document_url && safeUrl(m.document_url, ['http:', 'https:']);
    if (doc) {
      const a = link(doc, 'doc', `📄 ${m.document_name || doc.split('/').pop()}`);
      a.download = m.document_name || '';
      bubble.append(a);
    }
    wrap.append(bubble);
    if (!fromUser && Array.isArray(m.choices) && m.choices.length) {
      const box = renderChoices(m.choices, wrap);
      if (box.childElementCount) wrap.append(box);
    }
    log.append(wrap);
    return true;
  }

  function showMessage(m) {
    if (!m || !renderMessage(m)) return;
    setAsk(m.from === 'user' ? null : m);
  }

  // The visitor's own bubble, drawn at send time (the server does not echo live messages).
  function addUser(content) {
    const wrap = el('div', 'msg user');
    const bubble = el('div', 'bubble');
    bubble.append(typeof content === 'string' ? el('div', 'text', content) : content);
    wrap.append(bubble);
    log.append(wrap);
    setAsk(null); // whatever was asked has now been answered
    scrollDown(true);
  }

  function addNote(text) {
    const note = `⚠ ${text}`;
    // A server that refuses every reconnect repeats itself; show that once, not once per retry.
    if (log.lastElementChild && log.lastElementChild.textContent === note) return;
    log.append(el('div', 'msg note', note));
    scrollDown(true);
  }

  /* ---------- What the bot asks for (location / phone / photo) ---------- */

  // The tray above the input bar mirrors the latest message's `ask`, like a reply keyboard.
  function setAsk(m) {
    const kind = m && ['location', 'contact', 'photo'].includes(m.ask) ? m.ask : '';
    photoBtn.classList.toggle('wanted', kind === 'photo');
    askEl.replaceChildren();
    askEl.hidden = !kind;
    if (!kind) return;
    const label = m.ask_label || ui[kind] || '';
    const row = el('div', 'ask-row');
    const err = el('p', 'ask-err');
    err.setAttribute('role', 'alert');
    if (kind === 'contact') row.append(phoneForm(label));
    else if (kind === 'location') {
      row.append(button(`📍 ${label}`, 'choice primary', (e) => shareLocation(e.currentTarget, err)));
    }
    else row.append(button(`📷 ${label}`, 'choice primary', () => photoInput.click()));
    if (m.skip_label) row.append(button(m.skip_label, 'choice ghost', () => sendText(m.skip_label)));
    askEl.append(row, err);
  }

  function shareLocation(btn, err) {
    const fail = (msg) => { err.textContent = `⚠ ${msg}`; btn.disabled = false; };
    if (!navigator.geolocation) return fail(str('location_unavailable'));
    btn.disabled = true;
    err.textContent = '';
    navigator.geolocation.getCurrentPosition((pos) => {
      const lat = Number(pos.coords.latitude.toFixed(6));
      const lon = Number(pos.coords.longitude.toFixed(6));
      if (send({ type: 'location', lat, lon })) addUser(`📍 ${lat}, ${lon}`);
      else btn.disabled = false;
    }, (e) => fail(str(e.code === 1 ? 'location_denied' : 'location_unavailable')),
    { enableHighAccuracy: true, timeout: 20000, maximumAge: 60000 });
  }

  // Browsers cannot share an address-book contact, so the visitor types the number.
  function phoneForm(label) {
    const f = el('form', 'ask-phone');
    const lab = el('label', 'ask-label', label);
    lab.htmlFor = 'ask-phone-input';
    const field = Object.assign(el('input'), {
      type: 'tel', id: 'ask-phone-input', name: 'phone', autocomplete: 'tel', inputMode: 'tel',
      required: true, placeholder: '+84…',
      // Escaped so the pattern is valid under both the "u" and the newer "v" regex flag.
      pattern: '\\+?[0-9 .\\(\\)\\-]{8,20}',
    });
    const ok = Object.assign(el('button', 'choice primary', ui.send || ''), { type: 'submit' });
    f.append(lab, field, ok);
    f.addEventListener('submit', (e) => {
      e.preventDefault();
      const phone = field.value.replace(/[\s.()-]/g, '');
      if (send({ type: 'contact', phone })) addUser(`📞 ${phone}`);
    });
    return f;
  }

  /* ---------- Photos ---------- */

  function loadImage(file) {
    return new Promise((resolve, reject) => {
      const url = URL.createObjectURL(file);
      const img = new Image();
      img.onload = () => { URL.revokeObjectURL(url); resolve(img); };
      img.onerror = () => { URL.revokeObjectURL(url); reject(new Error('undecodable image')); };
      img.src = url;
    });
  }

  const readDataUrl = (file) => new Promise((resolve, reject) => {
    const r = Object.assign(new FileReader(), { onload: () => resolve(r.result), onerror: () => reject(r.error) });
    r.readAsDataURL(file);
  });

  // Re-encode through a canvas: caps the size and also strips EXIF (GPS position, device)
  // from what a resident sends. Browsers apply the EXIF orientation when drawing.
  async function preparePhoto(file) {
    const base = (file.name || 'photo').replace(/\.[^.]*$/, '') || 'photo';
    try {
      const img = await loadImage(file);
      const scale = Math.min(1, PHOTO_MAX_PX / Math.max(img.naturalWidth, img.naturalHeight));
      const canvas = el('canvas');
      canvas.width = Math.max(1, Math.round(img.naturalWidth * scale));
      canvas.height = Math.max(1, Math.round(img.naturalHeight * scale));
      const ctx = canvas.getContext('2d');
      ctx.fillStyle = '#fff'; // transparent PNGs would turn black in JPEG
      ctx.fillRect(0, 0, canvas.width, canvas.height);
      ctx.drawImage(img, 0, 0, canvas.width, canvas.height);
      return { url: canvas.toDataURL('image/jpeg', 0.85), mime: 'image/jpeg', name: `${base}.jpg`, preview: true };
    } catch {
      // This browser cannot decode it (e.g. HEIC on some desktops): send as is, the server decides.
      const url = await readDataUrl(file);
      return { url, mime: file.type || 'application/octet-stream', name: file.name || base, preview: false };
    }
  }

  photoBtn.addEventListener('click', () => photoInput.click());
  photoInput.addEventListener('change', async () => {
    const file = photoInput.files && photoInput.files[0];
    photoInput.value = ''; // so picking the same file again still fires "change"
    if (!file || !isOpen()) { if (file) setStatus('offline'); return; }
    try {
      const p = await preparePhoto(file);
      const data = p.url.slice(p.url.indexOf(',') + 1); // base64 without the "data:…," prefix
      if (!send({ type: 'photo', data, mime: p.mime, name: p.name })) return;
      addUser(p.preview ? image(p.url) : el('div', 'text', `📷 ${p.name}`));
    } catch (e) {
      addNote(`${ui.photo || ''}: ${e && e.message ? e.message : e}`);
    }
  });

  /* ---------- Connection ---------- */

  let ws = null;
  let attempt = 0; // consecutive failed connections, drives the backoff
  let timer = 0;
  let startSent = false;

  const isOpen = () => !!ws && ws.readyState === WebSocket.OPEN;

  function setStatus(key) {
    statusEl.textContent = key ? (ui[key] || '') : '';
    statusEl.dataset.state = key || 'ok';
    document.body.dataset.conn = key || 'ok';
  }

  function wsUrl() {
    const url = new URL(cfg.ws_url || '/chat/ws', location.href);
    url.protocol = url.protocol.replace(/^http/, 'ws'); // http→ws, https→wss
    return url.href;
  }

  function connect() {
    clearTimeout(timer);
    setStatus(navigator.onLine === false ? 'offline' : attempt ? 'reconnecting' : 'connecting');
    let sock;
    try { sock = new WebSocket(wsUrl()); } catch { retry(); return; }
    ws = sock;
    sock.onopen = () => setStatus(null);
    sock.onmessage = (ev) => { if (sock === ws) onServer(ev.data); };
    // "error" is always followed by "close", so only close needs handling.
    sock.onclose = () => { if (sock === ws) { ws = null; retry(); } };
  }

  function retry() {
    // 1s, 2s, 4s … capped at 30s, with a little jitter so a server restart isn't hit by everyone at once.
    const delay = Math.min(30000, 1000 * 2 ** attempt) * (0.85 + Math.random() * 0.3);
    attempt += 1;
    setStatus(navigator.onLine === false ? 'offline' : 'reconnecting');
    clearTimeout(timer);
    timer = setTimeout(connect, delay);
  }

  // Try at once (not after the backoff) when the network or the tab comes back.
  const reconnectNow = () => { if (!ws) { attempt = Math.min(attempt, 1); connect(); } };
  window.addEventListener('online', () => { if (isOpen()) setStatus(null); else reconnectNow(); });
  window.addEventListener('offline', () => setStatus('offline'));
  document.addEventListener('visibilitychange', () => { if (!document.hidden) reconnectNow(); });

  function send(obj) {
    if (!isOpen()) { setStatus('offline'); return false; }
    ws.send(JSON.stringify(obj));
    return true;
  }

  function sendText(text) {
    if (!send({ type: 'text', text })) return false;
    addUser(text);
    return true;
  }

  // A reload of the link must not send a used invitation again ("code already used").
  function forgetStart() {
    const url = new URL(location.href);
    url.searchParams.delete('start');
    history.replaceState(history.state, '', url.pathname + url.search + url.hash);
  }

  function onServer(raw) {
    let data;
    try { data = JSON.parse(raw); } catch { return; }
    if (!data || typeof data !== 'object') return;
    if (data.type === 'history') {
      const messages = Array.isArray(data.messages) ? data.messages : [];
      attempt = 0; // reset the backoff only once the server really talks, not on a bare open
      // Replace rather than append (reconnects resend everything), without reading it all aloud.
      log.setAttribute('aria-live', 'off');
      log.replaceChildren();
      setAsk(null);
      messages.forEach(showMessage);
      stick = true;
      scrollDown(true);
      setTimeout(() => log.setAttribute('aria-live', 'polite'), 0);
      // Once per page load, never on a reconnect: a link's payload (an invitation) counts
      // whatever the history holds; a bare /start only greets a conversation not begun.
      if (!startSent && (cfg.start || !messages.length)) {
        startSent = send({ type: 'text', text: cfg.start ? `/start ${cfg.start}` : '/start' });
        if (startSent && cfg.start) forgetStart();
      }
    } else if (data.type === 'message') {
      showMessage(data);
      scrollDown(data.from === 'user');
    } else if (data.type === 'error' && data.text) {
      addNote(String(data.text));
    }
  }

  /* ---------- Composer ---------- */

  function resizeInput() {
    // Grow with the text; CSS max-height stops it at four lines, then it scrolls.
    input.style.height = 'auto';
    input.style.height = `${input.scrollHeight + input.offsetHeight - input.clientHeight}px`;
    const n = input.value.length;
    counter.hidden = n < COUNTER_FROM;
    counter.textContent = counter.hidden ? '' : `${n}/${MAX_LEN}`; // empty: it also describes the field
    counter.classList.toggle('full', n >= MAX_LEN);
  }

  function submitText() {
    const text = input.value.trim();
    if (!text || text.length > MAX_LEN) return;
    if (!sendText(text)) return; // keep the draft when offline
    input.value = '';
    resizeInput();
  }

  form.addEventListener('submit', (e) => { e.preventDefault(); submitText(); });
  input.addEventListener('input', resizeInput);
  input.addEventListener('keydown', (e) => {
    // isComposing / 229: Enter that confirms an IME word (Vietnamese Telex on macOS etc.) must not send.
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
      e.preventDefault();
      submitText();
    }
  });

  // Demo switcher links are plain "?as=key"; carry an explicit ?lang= over so the language sticks.
  const lang = new URLSearchParams(location.search).get('lang');
  if (lang) document.querySelectorAll('.demo a').forEach((a) => { a.search += `&lang=${encodeURIComponent(lang)}`; });

  resizeInput();
  connect();
})();
