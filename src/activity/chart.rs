//! Chart geometry for the activity page: where each bar, grid line and
//! label of an SVG chart goes, as plain numbers and strings. The template
//! (`activity-chart.html.tera`) writes the SVG from this, so every text in
//! a chart passes through Tera's escaping like the rest of the page, and
//! colours come from classes in `app.css` (the page's CSP allows no style
//! attributes). Nothing here formats SVG or knows of HTTP.
//!
//! Two shapes cover the page: columns per day, stacked by series
//! ([`Chart::columns`]), and one horizontal bar per named row
//! ([`Chart::bars`]).

use serde::Serialize;

/// The drawing's width in SVG units; it scales to the page's width.
const WIDTH: f64 = 720.0;
/// Room for the value axis' labels, left of the columns.
const AXIS: f64 = 52.0;
/// Height of the columns' area, and the date labels below it.
const PLOT_HEIGHT: f64 = 200.0;
const BOTTOM: f64 = 24.0;
const TOP: f64 = 8.0;
/// Horizontal bars: each row's height, and room for its name.
const ROW: f64 = 24.0;
const NAME: f64 = 180.0;
/// Names longer than this are cut in the drawing (whole in the table).
const NAME_CHARS: usize = 24;
/// Date labels under the columns, at most.
const DATE_LABELS: usize = 6;

/// One series of a stacked chart: its CSS class, and its name's key in
/// the page's `activity` translations (the legend and each bar's title).
#[derive(Debug, Clone, Serialize)]
pub struct Series {
    pub class: &'static str,
    pub key: &'static str,
}

/// A rectangle, with what a pointer or screen reader gets for it: its
/// column's or row's `label` (or its translation `key`), and its value.
#[derive(Debug, Clone, Serialize)]
pub struct Bar {
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
    pub class: &'static str,
    pub label: String,
    pub key: Option<&'static str>,
    pub value: i64,
}

/// A text in the drawing, or the key of its translation; `anchor` is
/// SVG's `text-anchor`.
#[derive(Debug, Clone, Serialize)]
pub struct Label {
    pub x: f64,
    pub y: f64,
    pub text: String,
    pub key: Option<&'static str>,
    pub anchor: &'static str,
}

/// One row of a bar chart: a name as it is (a room's), or the key of its
/// translation, its value, and its bar's CSS class.
pub struct Row {
    pub name: String,
    pub key: Option<&'static str>,
    pub value: i64,
    pub class: &'static str,
}

/// A horizontal line across the columns at a round value.
#[derive(Debug, Clone, Serialize)]
pub struct GridLine {
    pub y: f64,
    pub label: Label,
}

/// Everything the template draws.
#[derive(Debug, Clone, Serialize)]
pub struct Chart {
    pub width: f64,
    pub height: f64,
    pub bars: Vec<Bar>,
    pub grid: Vec<GridLine>,
    pub labels: Vec<Label>,
    pub series: Vec<Series>,
    /// The left edge of the plotting area, for the axis line.
    pub axis_x: f64,
    pub axis_bottom: f64,
}

/// One column: its date label and a value per series, in series order.
pub struct Column {
    pub label: String,
    pub values: Vec<i64>,
}

impl Chart {
    /// Columns side by side, each a stack of its series' values; the value
    /// axis goes up to a round number at or above the highest stack.
    pub fn columns(series: Vec<Series>, columns: &[Column]) -> Self {
        let highest = columns.iter().map(|c| c.values.iter().sum::<i64>()).max().unwrap_or(0);
        let (step, top) = scale(highest);
        let per_unit = PLOT_HEIGHT / top as f64;
        let slot = (WIDTH - AXIS) / columns.len().max(1) as f64;
        // A gap between columns while they are wide enough to show one.
        let gap = if slot >= 6.0 { 1.0 } else { 0.0 };
        let baseline = TOP + PLOT_HEIGHT;
        let mut bars = Vec::new();
        for (i, column) in columns.iter().enumerate() {
            let x = AXIS + slot * i as f64;
            let mut y = baseline;
            for (value, s) in column.values.iter().zip(&series) {
                if *value <= 0 {
                    continue;
                }
                let height = *value as f64 * per_unit;
                y -= height;
                bars.push(Bar {
                    x: round(x + gap / 2.0),
                    y: round(y),
                    width: round(slot - gap),
                    height: round(height),
                    class: s.class,
                    label: column.label.clone(),
                    key: Some(s.key),
                    value: *value,
                });
            }
        }
        let grid = (0..=top / step)
            .map(|k| {
                let y = round(baseline - (k * step) as f64 * per_unit);
                GridLine {
                    y,
                    label: Label { x: AXIS - 6.0, y: y + 4.0, text: k_of(k * step), key: None, anchor: "end" },
                }
            })
            .collect();
        let last = columns.len().saturating_sub(1);
        let labels = date_label_positions(columns.len())
            .into_iter()
            .map(|i| {
                // The last date ends at the drawing's edge instead of
                // running past it; the others are centred on their column.
                let (x, anchor) = if i == last && i > 0 {
                    (AXIS + slot * (i as f64 + 1.0), "end")
                } else {
                    (AXIS + slot * (i as f64 + 0.5), "middle")
                };
                Label { x: round(x), y: baseline + 16.0, text: columns[i].label.clone(), key: None, anchor }
            })
            .collect();
        Self {
            width: WIDTH,
            height: TOP + PLOT_HEIGHT + BOTTOM,
            bars,
            grid,
            labels,
            series,
            axis_x: AXIS,
            axis_bottom: baseline,
        }
    }

    /// One bar per row, longest first as given, each with its name on the
    /// left and its value at its end.
    pub fn bars(rows: &[Row]) -> Self {
        let highest = rows.iter().map(|r| r.value).max().unwrap_or(0).max(1);
        // Room for the value's digits after the longest bar.
        let room = WIDTH - NAME - 60.0;
        let mut bars = Vec::new();
        let mut labels = Vec::new();
        for (i, row) in rows.iter().enumerate() {
            let y = TOP + ROW * i as f64;
            let width = round(row.value.max(0) as f64 / highest as f64 * room);
            bars.push(Bar {
                x: NAME,
                y: y + 3.0,
                width,
                height: ROW - 6.0,
                class: row.class,
                label: row.name.clone(),
                key: row.key,
                value: row.value,
            });
            let name = Label { x: NAME - 8.0, y: y + 16.0, text: shorten(&row.name), key: row.key, anchor: "end" };
            labels.push(name);
            let value =
                Label { x: NAME + width + 6.0, y: y + 16.0, text: row.value.to_string(), key: None, anchor: "start" };
            labels.push(value);
        }
        Self {
            width: WIDTH,
            height: TOP * 2.0 + ROW * rows.len().max(1) as f64,
            bars,
            grid: Vec::new(),
            labels,
            series: Vec::new(),
            axis_x: NAME,
            axis_bottom: TOP + ROW * rows.len().max(1) as f64,
        }
    }
}

/// A round step (1, 2 or 5 times a power of ten) giving at most five grid
/// lines, and the axis' top: the first multiple of it at or above `highest`
/// (at least one step, so an empty chart still has an axis).
fn scale(highest: i64) -> (i64, i64) {
    let mut magnitude = 1_i64;
    loop {
        for factor in [1, 2, 5] {
            let step = factor * magnitude;
            if highest <= step * 5 {
                let top = ((highest + step - 1) / step).max(1) * step;
                return (step, top);
            }
        }
        magnitude = magnitude.saturating_mul(10);
    }
}

/// Which columns get a date under them: the last, and others evenly spaced
/// before it, at most [`DATE_LABELS`].
fn date_label_positions(columns: usize) -> Vec<usize> {
    if columns == 0 {
        return Vec::new();
    }
    let every = columns.div_ceil(DATE_LABELS).max(1);
    let last = columns - 1;
    let mut at: Vec<usize> = (0..columns).rev().step_by(every).collect();
    at.reverse();
    debug_assert_eq!(at.last(), Some(&last));
    at
}

/// A grid value as people read it on an axis: 1200 → "1.2k", 3000000 → "3M".
fn k_of(value: i64) -> String {
    let (unit, suffix) = match value {
        v if v >= 1_000_000 => (1_000_000, "M"),
        v if v >= 1_000 => (1_000, "k"),
        _ => return value.to_string(),
    };
    let tenths = value * 10 / unit;
    if tenths % 10 == 0 {
        format!("{}{suffix}", tenths / 10)
    } else {
        format!("{}.{}{suffix}", tenths / 10, tenths % 10)
    }
}

fn shorten(name: &str) -> String {
    if name.chars().count() <= NAME_CHARS {
        return name.to_owned();
    }
    let mut short: String = name.chars().take(NAME_CHARS - 1).collect();
    short.push('…');
    short
}

/// SVG coordinates to a tenth of a unit: finer is invisible and longer.
fn round(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn two_series() -> Vec<Series> {
        vec![Series { class: "a", key: "members" }, Series { class: "b", key: "guests" }]
    }

    #[test]
    fn the_axis_ends_on_a_round_number_at_or_above_the_highest_value() {
        assert_eq!(scale(0), (1, 1));
        assert_eq!(scale(7), (2, 8));
        assert_eq!(scale(10), (2, 10));
        assert_eq!(scale(11), (5, 15));
        assert_eq!(scale(4_321), (1000, 5000));
        assert_eq!(scale(9_000_001), (2_000_000, 10_000_000));
    }

    #[test]
    fn stacked_columns_are_as_tall_as_their_sum_and_skip_zeros() {
        let columns =
            vec![Column { label: "d1".into(), values: vec![6, 4] }, Column { label: "d2".into(), values: vec![0, 5] }];
        let chart = Chart::columns(two_series(), &columns);
        assert_eq!(chart.bars.len(), 3, "a zero draws nothing");
        // 10 is the top of the axis: the first column fills it.
        let first: f64 = chart.bars[..2].iter().map(|b| b.height).sum();
        assert_eq!(first, PLOT_HEIGHT);
        assert_eq!(chart.bars[2].height, PLOT_HEIGHT / 2.0);
        assert_eq!((chart.bars[1].label.as_str(), chart.bars[1].key, chart.bars[1].value), ("d1", Some("guests"), 4));
        assert_eq!(chart.grid.first().map(|g| g.label.text.as_str()), Some("0"));
        assert_eq!(chart.grid.last().map(|g| g.label.text.as_str()), Some("10"));
    }

    #[test]
    fn a_year_of_columns_labels_at_most_six_dates_ending_with_the_last() {
        let at = date_label_positions(365);
        assert!(at.len() <= DATE_LABELS, "{at:?}");
        assert_eq!(at.last(), Some(&364));
        assert_eq!(date_label_positions(1), vec![0]);
        assert!(date_label_positions(0).is_empty());
    }

    #[test]
    fn bars_scale_to_the_longest_and_cut_long_names_in_the_drawing_only() {
        let long = "a".repeat(64);
        let row = |name: &str, value| Row { name: name.into(), key: None, value, class: "c" };
        let chart = Chart::bars(&[row(&long, 10), row("b", 5)]);
        assert_eq!(chart.bars[1].width * 2.0, chart.bars[0].width);
        assert_eq!(chart.labels[0].text.chars().count(), NAME_CHARS);
        assert_eq!(chart.bars[0].label, long, "the title keeps the whole name");
    }

    #[test]
    fn axis_values_read_as_thousands_and_millions() {
        assert_eq!(k_of(500), "500");
        assert_eq!(k_of(1_000), "1k");
        assert_eq!(k_of(2_500), "2.5k");
        assert_eq!(k_of(10_000_000), "10M");
    }
}
