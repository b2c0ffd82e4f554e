//! A line chart as a plain SVG document, written by hand: a title (also as
//! the document's `<title>`, for screen readers), a caption, two axes with
//! labelled ticks and grid lines, one polyline per series and a legend. It
//! knows nothing of runs or latencies (the caller gives it coordinates and
//! tick labels) and it must not emit any text unescaped.

use std::fmt::Write as _;

/// An axis: its range, its ticks (position, label) and its name.
#[derive(Debug, Clone)]
pub struct Axis {
    pub label: String,
    pub min: f64,
    pub max: f64,
    pub ticks: Vec<(f64, String)>,
}

/// One line of the chart.
#[derive(Debug, Clone)]
pub struct Line {
    pub label: String,
    pub points: Vec<(f64, f64)>,
}

#[derive(Debug, Clone)]
pub struct Chart {
    pub title: String,
    pub caption: String,
    pub x: Axis,
    pub y: Axis,
    pub lines: Vec<Line>,
}

/// Distinct in colour and for most colour blindness (Okabe and Ito).
const COLOURS: [&str; 6] = ["#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9"];

const WIDTH: f64 = 760.0;
const HEIGHT: f64 = 460.0;
const LEFT: f64 = 84.0;
// Room on the right for half the last x label ("99.99999%").
const RIGHT: f64 = 716.0;
const TOP: f64 = 70.0;
const BOTTOM: f64 = 390.0;

/// Text made safe for SVG content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        // Control characters are not allowed in XML 1.0 at all; the rest as
        // the server escapes page text.
        let c = if c.is_control() && !matches!(c, '\n' | '\t') { ' ' } else { c };
        chat::search::snippet::escape_into(&mut out, c);
    }
    out
}

/// Ticks at 1, 2 or 5 × a power of ten, about five from 0 to at least
/// `max`: returns the axis's top and the ticks.
pub fn nice_ticks(max: f64) -> (f64, Vec<f64>) {
    if !(max.is_finite() && max > 0.0) {
        return (1.0, vec![0.0, 0.5, 1.0]);
    }
    let raw = max / 5.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * magnitude).find(|s| *s >= raw).unwrap_or(10.0 * magnitude);
    let top = (max / step - 1e-9).ceil().max(1.0) * step;
    let ticks = (0..).map(|i| f64::from(i) * step).take_while(|t| *t <= top + step * 1e-6).collect();
    (top, ticks)
}

/// A tick label: thousands separated, as many decimals as the step needs.
pub fn number(value: f64, step: f64) -> String {
    let decimals = if step >= 1.0 { 0 } else { (-step.log10()).ceil() as usize };
    let text = format!("{value:.decimals$}");
    let (int, frac) = text.split_once('.').map_or((text.as_str(), None), |(i, f)| (i, Some(f)));
    let (sign, digits) = int.strip_prefix('-').map_or(("", int), |d| ("-", d));
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    match frac {
        Some(frac) => format!("{sign}{grouped}.{frac}"),
        None => format!("{sign}{grouped}"),
    }
}

fn scale(value: f64, axis: &Axis, from: f64, to: f64) -> f64 {
    let span = axis.max - axis.min;
    let at = if span > 0.0 { (value - axis.min) / span } else { 0.0 };
    from + at.clamp(0.0, 1.0) * (to - from)
}

/// The chart as an SVG document.
pub fn render(chart: &Chart) -> String {
    let (x, y) = (&chart.x, &chart.y);
    let px = |v: f64| scale(v, x, LEFT, RIGHT);
    let py = |v: f64| scale(v, y, BOTTOM, TOP);
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-labelledby="title desc" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(svg, r#"<title id="title">{}</title>"#, escape(&chart.title));
    let _ = writeln!(svg, r#"<desc id="desc">{}</desc>"#, escape(&chart.caption));
    let _ = writeln!(svg, r##"<rect width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>"##);
    let mid = (LEFT + RIGHT) / 2.0;
    let _ = writeln!(
        svg,
        r#"<text x="{mid}" y="28" text-anchor="middle" font-size="17" font-weight="bold">{}</text>"#,
        escape(&chart.title)
    );
    let _ = writeln!(
        svg,
        r##"<text x="{mid}" y="50" text-anchor="middle" fill="#555555">{}</text>"##,
        escape(&chart.caption)
    );
    for (at, label) in &x.ticks {
        let v = px(*at);
        let _ = writeln!(svg, r##"<line x1="{v:.1}" y1="{TOP}" x2="{v:.1}" y2="{BOTTOM}" stroke="#e4e4e4"/>"##);
        let _ =
            writeln!(svg, r#"<text x="{v:.1}" y="{}" text-anchor="middle">{}</text>"#, BOTTOM + 18.0, escape(label));
    }
    for (at, label) in &y.ticks {
        let v = py(*at);
        let _ = writeln!(svg, r##"<line x1="{LEFT}" y1="{v:.1}" x2="{RIGHT}" y2="{v:.1}" stroke="#e4e4e4"/>"##);
        let _ =
            writeln!(svg, r#"<text x="{}" y="{:.1}" text-anchor="end">{}</text>"#, LEFT - 8.0, v + 4.0, escape(label));
    }
    let _ = writeln!(svg, r##"<path d="M{LEFT} {TOP}V{BOTTOM}H{RIGHT}" fill="none" stroke="#333333"/>"##);
    let _ = writeln!(
        svg,
        r#"<text x="{mid}" y="{}" text-anchor="middle" font-size="13">{}</text>"#,
        BOTTOM + 44.0,
        escape(&x.label)
    );
    let ymid = (TOP + BOTTOM) / 2.0;
    let _ = writeln!(
        svg,
        r#"<text x="24" y="{ymid}" text-anchor="middle" font-size="13" transform="rotate(-90 24 {ymid})">{}</text>"#,
        escape(&y.label)
    );
    for (i, line) in chart.lines.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        let points: Vec<String> = line.points.iter().map(|&(a, b)| format!("{:.1},{:.1}", px(a), py(b))).collect();
        let _ = writeln!(
            svg,
            r#"<polyline fill="none" stroke="{colour}" stroke-width="2" stroke-linejoin="round" points="{}"><title>{}</title></polyline>"#,
            points.join(" "),
            escape(&line.label)
        );
    }
    legend(&mut svg, &chart.lines);
    svg.push_str("</svg>\n");
    svg
}

/// The legend, in the plot's bottom right corner: where both charts'
/// lines seldom go (latency rises to the right; a steady rate runs high).
fn legend(svg: &mut String, lines: &[Line]) {
    let longest = lines.iter().map(|l| l.label.chars().count()).max().unwrap_or(0) as f64;
    let (w, h) = (44.0 + longest * 7.0, 8.0 + 18.0 * lines.len() as f64);
    let (x, y) = (RIGHT - 12.0 - w.round(), BOTTOM - 12.0 - h);
    let _ = writeln!(
        svg,
        r##"<rect x="{x}" y="{y}" width="{w:.0}" height="{h}" fill="#ffffff" fill-opacity="0.9" stroke="#bbbbbb"/>"##
    );
    for (i, line) in lines.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        let row = y + 17.0 + 18.0 * i as f64;
        let _ = writeln!(
            svg,
            r#"<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="{colour}" stroke-width="3"/>"#,
            x + 8.0,
            row - 4.0,
            x + 30.0,
            row - 4.0
        );
        let _ = writeln!(svg, r#"<text x="{}" y="{row}">{}</text>"#, x + 36.0, escape(&line.label));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_cover_the_maximum() {
        assert_eq!(nice_ticks(47.0), (50.0, vec![0.0, 10.0, 20.0, 30.0, 40.0, 50.0]));
        assert_eq!(nice_ticks(100.0).0, 100.0);
        let (top, ticks) = nice_ticks(0.37);
        assert!((top - 0.4).abs() < 1e-9 && ticks.len() == 5, "{top} {ticks:?}");
        assert_eq!(nice_ticks(0.0).0, 1.0);
        assert_eq!(nice_ticks(f64::NAN).0, 1.0);
        assert_eq!(number(52_000.0, 10_000.0), "52,000");
        assert_eq!(number(1_234_567.0, 1.0), "1,234,567");
        assert_eq!(number(0.25, 0.05), "0.25");
        assert_eq!(number(-1500.0, 500.0), "-1,500");
    }

    #[test]
    fn text_is_escaped() {
        assert_eq!(escape(r#"<a & "b" 'c'>"#), "&lt;a &amp; &quot;b&quot; &#39;c&#39;&gt;");
        assert_eq!(escape("bell\u{7}"), "bell ");
    }
}
