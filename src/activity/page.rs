//! The activity page's charts, from a [`Report`]: which numbers go in
//! which chart, in which series and rows. Names of series and of fixed
//! rows are keys of the page's `activity` translations; room names are
//! shown as they are. The numbers behind each chart are the report's own,
//! which the template also lists in the chart's table.

use serde::Serialize;

use super::Report;
use super::chart::{Chart, Column, Row, Series};

/// Every chart of the page.
#[derive(Debug, Serialize)]
pub struct Charts {
    pub messages: Chart,
    pub people: Chart,
    pub rooms: Chart,
    pub message_split: Chart,
    pub people_split: Chart,
    pub streams: Chart,
}

impl Charts {
    pub fn of(report: &Report) -> Self {
        let messages = report
            .messages
            .iter()
            .map(|d| Column { label: d.day.clone(), values: vec![d.members, d.guests, d.bots] })
            .collect::<Vec<_>>();
        let people = report
            .people
            .iter()
            .map(|d| Column { label: d.day.clone(), values: vec![d.members, d.guests] })
            .collect::<Vec<_>>();
        let rooms: Vec<Row> = report
            .top_rooms
            .iter()
            .map(|r| Row { name: format!("#{}", r.room), key: None, value: r.messages, class: "series-rooms" })
            .collect();
        let row =
            |series: &Series, value| Row { name: String::new(), key: Some(series.key), value, class: series.class };
        let stream = |key, value| Row { name: String::new(), key: Some(key), value, class: "series-streams" };
        let totals = &report.totals;
        let streams = &report.open_streams;
        Self {
            messages: Chart::columns(vec![MEMBERS, GUESTS, BOTS], &messages),
            people: Chart::columns(vec![MEMBERS, GUESTS], &people),
            rooms: Chart::bars(&rooms),
            message_split: Chart::bars(&[
                row(&MEMBERS, totals.member_messages),
                row(&GUESTS, totals.guest_messages),
                row(&BOTS, totals.bot_messages),
            ]),
            people_split: Chart::bars(&[row(&MEMBERS, totals.members), row(&GUESTS, totals.guests)]),
            streams: Chart::bars(&[stream("sse", streams.sse), stream("ws", streams.ws), stream("poll", streams.poll)]),
        }
    }
}

const MEMBERS: Series = Series { class: "series-members", key: "members" };
const GUESTS: Series = Series { class: "series-guests", key: "guests" };
const BOTS: Series = Series { class: "series-bots", key: "bots" };
