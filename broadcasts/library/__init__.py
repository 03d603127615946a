"""The shipped notice templates (``<name>.<language>.j2``) and their catalogue."""
