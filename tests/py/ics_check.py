"""Parses an iCalendar file with the icalendar package and prints its events as JSON."""
import json
import sys

import icalendar

with open(sys.argv[1], "rb") as f:
    cal = icalendar.Calendar.from_ical(f.read())
events = []
for e in cal.walk("VEVENT"):
    geo = e.get("GEO")
    events.append({
        "uid": str(e.get("UID")),
        "summary": str(e.get("SUMMARY")),
        "start": e.decoded("DTSTART").isoformat(),
        "end": e.decoded("DTEND").isoformat(),
        "dtstamp": e.decoded("DTSTAMP").isoformat() if e.get("DTSTAMP") else None,
        "geo": [geo.latitude, geo.longitude] if geo else None,
        "url": str(e.get("URL")) if e.get("URL") else None,
        "location": str(e.get("LOCATION")) if e.get("LOCATION") else None,
    })
print(json.dumps({"prodid": str(cal.get("PRODID")), "version": str(cal.get("VERSION")), "events": events}))
