//! JSON objects for what a secured chat notices about lines (lost, late, twice): a few a second, the rest folded into one object that sums them.
//!
//! One recorded datagram replayed from thousands of addresses is thousands
//! of "duplicated" events a second; written one by one they would be a
//! gigabyte a minute. Scripts get at most [`OBJECTS_PER_SECOND`] objects
//! a second, all sources together; events beyond that are summed into one
//! `{"folded":N,...}` object, written before the next event object or when
//! the queue is drained once the second is over, and at the end. Summing
//! `lost` and `late` over every object still gives the truth.

use std::net::SocketAddr;
use std::time::{Instant, SystemTime};

use crate::display::{Folded, Format, Style};
use crate::throttle::Throttle;
use crate::wire::opened::Event;

/// Event objects written per second, folded ones included.
pub(crate) const OBJECTS_PER_SECOND: u32 = 10;

/// The budget of event objects, and the events folded while it is spent.
pub(crate) struct EventObjects {
    budget: Throttle,
    folded: Folded,
}

impl Default for EventObjects {
    fn default() -> EventObjects {
        EventObjects {
            budget: Throttle::per_second(OBJECTS_PER_SECOND),
            folded: Folded::default(),
        }
    }
}

impl EventObjects {
    /// An event about a line from `from`, arrived at `arrived`: an object
    /// of its own if the budget allows, else folded.
    pub fn push(
        &mut self,
        style: &Style,
        event: Event,
        from: &SocketAddr,
        arrived: SystemTime,
        out: &mut Vec<u8>,
    ) {
        if style.format != Format::Json {
            return;
        }
        let now = Instant::now();
        if self.folded.events > 0 {
            if !self.budget.allows(now) {
                self.folded.add(event);
                return;
            }
            style.push_folded(&self.folded, arrived, out);
            self.folded = Folded::default();
        }
        if self.budget.allows(now) {
            style.push_event(event, from, arrived, out);
        } else {
            self.folded.add(event);
        }
    }

    /// The queue is drained: the folded object, once the budget allows.
    /// Reads no clock while nothing is folded.
    pub fn drained(&mut self, style: &Style, out: &mut Vec<u8>) {
        if self.folded.events > 0 && self.budget.allows(Instant::now()) {
            self.end(style, out);
        }
    }

    /// The end: the folded object, whatever the budget.
    pub fn end(&mut self, style: &Style, out: &mut Vec<u8>) {
        if self.folded.events > 0 {
            style.push_folded(&self.folded, SystemTime::now(), out);
            self.folded = Folded::default();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flood_of_events_is_a_few_objects_that_sum_to_the_truth() {
        let style = Style {
            format: Format::Json,
            ..Style::default()
        };
        let mut objects = EventObjects::default();
        let mut out = Vec::new();
        let arrived = SystemTime::now();
        for port in 0..5_000u16 {
            let from = SocketAddr::from(([10, 0, 0, 1], port));
            let event = match port % 3 {
                0 => Event::Lost(2),
                1 => Event::Late,
                _ => Event::Duplicated,
            };
            objects.push(&style, event, &from, arrived, &mut out);
        }
        objects.end(&style, &mut out);
        let values: Vec<serde_json::Value> = String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        assert!(
            values.len() <= OBJECTS_PER_SECOND as usize + 1,
            "{}",
            values.len()
        );
        let sum = |field: &str| -> u64 { values.iter().filter_map(|v| v[field].as_u64()).sum() };
        assert_eq!(
            (sum("lost"), sum("late"), sum("duplicated")),
            (2 * 1667, 1667, 1666)
        );
        let folded = values.last().unwrap()["folded"].as_u64().unwrap();
        assert_eq!(folded, 5_000 - OBJECTS_PER_SECOND as u64);
    }

    #[test]
    fn text_output_costs_no_clock_and_writes_nothing() {
        let mut objects = EventObjects::default();
        let mut out = Vec::new();
        let from = "10.0.0.1:9".parse().unwrap();
        for _ in 0..100 {
            objects.push(
                &Style::default(),
                Event::Lost(1),
                &from,
                SystemTime::now(),
                &mut out,
            );
        }
        objects.end(&Style::default(), &mut out);
        assert!(out.is_empty());
    }
}
