"""Reads an iCalendar document on stdin with PyPI icalendar (a real RFC 5545
parser) and prints what a calendar program would see, as JSON: each VTODO's
fields, with a zoned DUE resolved to UTC through the VTIMEZONE the document
itself carries (not the zone database), so a wrong definition shows."""
import json
import sys
from datetime import date, datetime, timezone

import icalendar

cal = icalendar.Calendar.from_ical(sys.stdin.buffer.read())
zones = {str(tz["TZID"]): tz.to_tz(lookup_tzid=False) for tz in cal.walk("VTIMEZONE")}


def resolve(prop):
    if prop is None:
        return None
    value = prop.dt
    if isinstance(value, datetime):
        tzid = prop.params.get("TZID")
        if tzid is not None:
            value = value.replace(tzinfo=None)
            if tzid not in zones:
                return {"error": f"no VTIMEZONE for {tzid}"}
            value = value.replace(tzinfo=zones[tzid])
            return {"utc": value.astimezone(timezone.utc).isoformat(), "tzid": tzid}
        if value.tzinfo is None:
            return {"floating": value.isoformat()}
        return {"utc": value.astimezone(timezone.utc).isoformat()}
    if isinstance(value, date):
        return {"date": value.isoformat()}
    return {"other": str(value)}


todos = []
for todo in cal.walk("VTODO"):
    rrule = todo.get("RRULE")
    categories = todo.get("CATEGORIES")
    cats = []
    if categories is not None:
        for c in categories if isinstance(categories, list) else [categories]:
            cats.extend(str(x) for x in c.cats)
    related = todo.get("RELATED-TO")
    alarms = []
    for alarm in todo.walk("VALARM"):
        trigger = alarm.get("TRIGGER")
        alarms.append({
            "action": str(alarm.get("ACTION")),
            "trigger": trigger.to_ical().decode(),
            "related": trigger.params.get("RELATED"),
        })
    todos.append({
        "uid": str(todo.get("UID")),
        "summary": str(todo.get("SUMMARY")),
        "description": str(todo.get("DESCRIPTION")) if todo.get("DESCRIPTION") is not None else None,
        "due": resolve(todo.get("DUE")),
        "dtstart": resolve(todo.get("DTSTART")),
        "priority": int(todo.get("PRIORITY")) if todo.get("PRIORITY") is not None else None,
        "status": str(todo.get("STATUS")),
        "completed": resolve(todo.get("COMPLETED")),
        "categories": sorted(cats),
        "rrule": rrule.to_ical().decode() if rrule is not None else None,
        "related_to": str(related) if related is not None else None,
        "alarms": alarms,
    })
json.dump({"zones": sorted(zones), "todos": todos}, sys.stdout)
