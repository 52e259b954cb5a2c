// Parses an iCalendar file with ical.js (Mozilla's RFC 5545 parser, the one Thunderbird
// uses): a reader Concord did not write.
//
//   node parse_ics.js calendar.ics
//
// Prints {"calendar": {...}, "events": [...]} as JSON, with each event's properties as
// ical.js reads them; exits 1 when the file does not parse.
import {readFileSync} from 'node:fs';

import ICAL from 'ical.js';

const [file] = process.argv.slice(2);
if(!file) {
  console.error('usage: node parse_ics.js calendar.ics');
  process.exit(2);
}
try {
  const calendar = new ICAL.Component(ICAL.parse(readFileSync(file, 'utf8')));
  const value = name => calendar.getFirstPropertyValue(name);
  const events = calendar.getAllSubcomponents('vevent').map(component => {
    const event = new ICAL.Event(component);
    return {
      uid: event.uid,
      summary: event.summary,
      location: event.location,
      description: event.description,
      start: event.startDate && event.startDate.toJSDate().toISOString(),
      end: event.endDate && event.endDate.toJSDate().toISOString(),
      dtstamp: String(component.getFirstPropertyValue('dtstamp') || ''),
      url: String(component.getFirstPropertyValue('url') || '')
    };
  });
  console.log(JSON.stringify({
    calendar: {
      name: calendar.name,
      version: value('version'),
      prodid: value('prodid')
    },
    events
  }));
} catch(error) {
  console.error(`${file}: ${error.message}`);
  process.exit(1);
}
