"""Each script once per page: a page that loads without script errors.

Jupyter Book 1 registers a few inline scripts twice, and sphinx-thebe's
`const THEBE_JS_URL = ...` declared twice is a SyntaxError on every page. A script whose
address and attributes (inline body included) equal an earlier one's is dropped.
"""


def drop_repeated_scripts(app, pagename, templatename, context, doctree) -> None:
    seen, unique = set(), []
    for script in context.get("script_files", []):
        # An inline script's filename is None or "", depending on who added it.
        key = (script.filename or "", tuple(sorted(script.attributes.items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"][:] = unique


def setup(app):
    # Last, after every extension has added its scripts to the page.
    app.connect("html-page-context", drop_repeated_scripts, priority=999)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
