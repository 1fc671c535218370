"""A CalDAV client for the tests (crates/ontask/tests/api/caldav.rs): PyPI
`caldav` (python-caldav, a real RFC 4791 / RFC 6578 client) driven one
command at a time. Each line on stdin is a JSON command; each answer is one
JSON line on stdout. A command that raises answers {"error": <class>,
"detail": ...} instead, so the test can assert refusals (a stale If-Match).
"""
import json
import sys

import caldav
from caldav.lib import error

state = {"client": None, "calendars": {}, "held": None, "synced": {}}


def calendar(name):
    return state["calendars"][name]


def describe(todo):
    component = todo.icalendar_component
    return {
        "url": str(todo.url),
        "uid": str(component.get("UID")),
        "summary": str(component.get("SUMMARY")),
        "status": str(component.get("STATUS", "")),
        "related_to": str(component.get("RELATED-TO", "")),
    }


def connect(cmd):
    client = caldav.DAVClient(url=cmd["url"], username=cmd["username"], password=cmd["password"])
    state["client"] = client
    principal = client.principal()
    state["principal"] = principal
    return {"principal": str(principal.url), "home": str(principal.calendar_home_set.url)}


def calendars(cmd):
    out = []
    for c in state["principal"].calendars():
        name = c.get_display_name()
        state["calendars"][name] = c
        out.append({"name": name, "url": str(c.url), "components": c.get_supported_components()})
    return {"calendars": out}


def create(cmd):
    todo = calendar(cmd["calendar"]).add_todo(cmd["ics"])
    return {"url": str(todo.url)}


def todos(cmd):
    found = calendar(cmd["calendar"]).todos(include_completed=cmd.get("include_completed", False))
    return {"todos": [describe(t) for t in found]}


def by_uid(cmd):
    return calendar(cmd["calendar"]).get_todo_by_uid(cmd["uid"])


def edit(cmd):
    todo = by_uid(cmd)
    todo.icalendar_component["SUMMARY"] = cmd["summary"]
    todo.save()
    return describe(by_uid(cmd))


def complete(cmd):
    by_uid(cmd).complete()
    return describe(by_uid(cmd))


def delete(cmd):
    by_uid(cmd).delete()
    return {"deleted": cmd["uid"]}


def hold(cmd):
    """Fetches a todo (GET: its ETag) and keeps it, as a client that edits offline."""
    todo = by_uid(cmd)
    todo.load()
    state["held"] = todo
    return {"etag": todo.etag}


def save_held(cmd):
    todo = state["held"]
    todo.icalendar_component["SUMMARY"] = cmd["summary"]
    todo.save()
    return {"saved": True}


def sync(cmd):
    """The first call lists everything (sync-collection without a token);
    each later call asks for what changed since (the token it got)."""
    name = cmd["calendar"]
    held = state["synced"].get(name)
    if held is None:
        held = calendar(name).get_objects_by_sync_token(load_objects=True, disable_fallback=True)
        state["synced"][name] = held
        return {"token": str(held.sync_token), "objects": [describe(o) for o in held]}
    updated, deleted = held.sync()
    return {
        "token": str(held.sync_token),
        "updated": [describe(o) for o in updated],
        "deleted": [str(o.url) for o in deleted],
    }


COMMANDS = {
    "connect": connect,
    "calendars": calendars,
    "create": create,
    "todos": todos,
    "edit": edit,
    "complete": complete,
    "delete": delete,
    "hold": hold,
    "save_held": save_held,
    "sync": sync,
}

for line in sys.stdin:
    cmd = json.loads(line)
    try:
        answer = COMMANDS[cmd["op"]](cmd)
    except error.DAVError as e:
        answer = {"error": type(e).__name__, "detail": str(e)}
    print(json.dumps(answer), flush=True)
