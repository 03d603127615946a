"""Catalogue keys the declaration code builds at run time exist in both languages."""

from __future__ import annotations

import pytest

from bot.i18n import LANGUAGES, catalogue
from bot.services import arrival_input, arrivals, id_numbers
from handlers import arrival_foreign, arrival_host, arrival_list, arrival_review, arrival_stay


@pytest.mark.parametrize("lang", LANGUAGES)
def test_run_time_keys_exist(lang: str) -> None:
    known = set(catalogue(lang))
    wanted = [f"arrival.place_kind.{k}" for k in arrivals.PLACE_KINDS]
    wanted += [f"arrival.reason.{r}" for r in arrivals.REASONS]
    wanted += [f"arrival.visa.{v}" for v in arrival_input.VISA_TYPES]
    wanted += [f"arrival.country.{c}" for c in arrival_foreign.COMMON]
    wanted += [f"arrival.gender.{g}" for g in ("m", "f")]
    wanted += [f"arrival.id_kind.{k}" for k in ("cccd", "passport")]
    wanted += [f"arrival.field.{f}" for f in (*arrival_review.IDENTITY, "passport",
                                              *arrival_review.FOREIGN, *arrival_review.STAY)]
    wanted += [f"arrival.stay.nights_{v}" for v, _ in arrival_stay.NIGHTS]
    wanted += [f"arrival.host.plus_{k}" for k in arrival_host.STEP_BY]
    wanted += [f"arrival.officer.section_{s}" for s in arrival_list.STATUSES]
    wanted += [f"arrival.officer.{w}" for w in ("ended", "extended", "export_csv",
                                                "export_xlsx")]
    wanted += [f"arrival.review.{s}" for s in ("in_time", "late")]
    errors = ("empty", "digits", "cmnd", "length", "province", "century", "passport")
    wanted += [f"arrival.bad.id_{e}" for e in errors]
    wanted += [f"arrival.bad.birth_{p}" for p in ("future", "too_old")]
    wanted += [f"arrival.bad.from_{p}" for p in ("date", "too_old", "too_far")]
    wanted += [f"arrival.bad.to_{p}" for p in ("date", "before_from", "too_long")]
    assert sorted(set(wanted) - known) == []
    assert id_numbers.check_cccd("x").error in errors
