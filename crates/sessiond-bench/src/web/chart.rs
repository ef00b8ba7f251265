//! The web figures as an SVG bar chart.

/// One bar of the chart: a group (store and route), a series (who served it), req/s.
pub(crate) struct Bar {
    pub(crate) group: String,
    pub(crate) series: &'static str,
    pub(crate) value: f64,
}

/// The figures as an SVG bar chart: one cluster of bars per group, one colour per series.
pub(crate) fn svg(bars: &[Bar]) -> String {
    use std::fmt::Write as _;
    let mut groups: Vec<&str> = Vec::new();
    let mut series: Vec<&str> = Vec::new();
    for b in bars {
        if !groups.contains(&b.group.as_str()) {
            groups.push(&b.group);
        }
        if !series.contains(&b.series) {
            series.push(b.series);
        }
    }
    let colours = ["#9e9e9e", "#1565c0", "#42a5f5", "#ef6c00", "#6a1b9a"];
    let max = bars.iter().map(|b| b.value).fold(1.0, f64::max);
    let (bar_w, gap, left, top, height) = (18.0, 26.0, 70.0, 40.0, 260.0);
    let group_w = bar_w * series.len() as f64 + gap;
    let width = left + group_w * groups.len() as f64 + 20.0;
    let mut s = String::new();
    let _ = write!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{w:.0}" height="{h:.0}" font-family="sans-serif" font-size="11">
<rect width="100%" height="100%" fill="white"/>
<text x="{left}" y="20" font-size="13">requests/s (median of rounds; 2 cores, client and server on one machine)</text>
"##,
        w = width,
        h = top + height + 110.0 + 16.0 * series.len() as f64,
    );
    for i in 0..=4 {
        let v = max * f64::from(i) / 4.0;
        let y = top + height - height * f64::from(i) / 4.0;
        let _ = writeln!(
            s,
            r##"<line x1="{left}" x2="{x2:.0}" y1="{y:.1}" y2="{y:.1}" stroke="#e0e0e0"/><text x="{tx}" y="{ty:.1}" text-anchor="end">{v:.0}</text>"##,
            x2 = width - 10.0,
            tx = left - 4.0,
            ty = y + 4.0,
        );
    }
    for (gi, g) in groups.iter().enumerate() {
        let gx = left + gap / 2.0 + group_w * gi as f64;
        for b in bars.iter().filter(|b| b.group == *g) {
            let si = series.iter().position(|s| *s == b.series).unwrap_or(0);
            let h = height * b.value / max;
            let _ = writeln!(
                s,
                r##"<rect x="{x:.1}" y="{y:.1}" width="{bar_w}" height="{h:.1}" fill="{c}"><title>{g}: {name} {v:.0}/s</title></rect>"##,
                x = gx + bar_w * si as f64,
                y = top + height - h,
                c = colours[si % colours.len()],
                name = b.series,
                v = b.value,
            );
        }
        let _ = writeln!(
            s,
            r##"<text x="{x:.1}" y="{y:.1}" transform="rotate(35 {x:.1} {y:.1})">{g}</text>"##,
            x = gx,
            y = top + height + 14.0,
        );
    }
    for (si, name) in series.iter().enumerate() {
        let y = top + height + 95.0 + 16.0 * si as f64;
        let _ = writeln!(
            s,
            r##"<rect x="{left}" y="{ry:.1}" width="12" height="12" fill="{c}"/><text x="{tx}" y="{y:.1}">{name}</text>"##,
            ry = y - 10.0,
            c = colours[si % colours.len()],
            tx = left + 18.0,
        );
    }
    s.push_str("</svg>\n");
    s
}
