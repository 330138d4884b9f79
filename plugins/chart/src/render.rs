//! Draws a [`Spec`] of a [`Table`] with plotters' bitmap backend and encodes a PNG.
//!
//! plotters compiles its font support out on wasm32 (it expects a browser there), so
//! [`Canvas`] wraps the bitmap backend and draws and measures text itself with ab_glyph
//! and the font bundled in `assets/` (Open Sans, Apache-2.0): the sandbox has no system
//! fonts, and the chart looks the same natively and in the plugin.

use ab_glyph::{Font, FontRef, PxScale, ScaleFont};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters_backend::{
    BackendColor, BackendCoord, BackendStyle, BackendTextStyle, DrawingErrorKind, FontTransform,
    text_anchor::{HPos, VPos},
};

use crate::spec::{Kind, MAX_SLICES, Spec};
use crate::table::Table;

/// Size of every chart, in pixels.
pub const WIDTH: u32 = 800;
pub const HEIGHT: u32 = 500;

/// Open Sans Regular (Apache-2.0, see assets/LICENSE-OpenSans.txt).
static FONT_BYTES: &[u8] = include_bytes!("../assets/OpenSans-Regular.ttf");

/// Series colours, picked to stay apart for common colour blindness (Okabe-Ito).
const COLORS: [RGBColor; 8] = [
    RGBColor(0, 114, 178),
    RGBColor(230, 159, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(86, 180, 233),
    RGBColor(213, 94, 0),
    RGBColor(240, 228, 66),
    RGBColor(120, 120, 120),
];

/// Longest label drawn on an axis or a slice, in characters.
const MAX_LABEL: usize = 16;

/// Renders the chart and returns PNG bytes.
pub fn png(table: &Table, spec: &Spec, title: &str) -> Result<Vec<u8>, String> {
    let font = FontRef::try_from_slice(FONT_BYTES).map_err(|e| format!("bundled font: {e}"))?;
    let mut rgb = vec![0u8; (WIDTH * HEIGHT * 3) as usize];
    {
        let backend = BitMapBackend::with_buffer(&mut rgb, (WIDTH, HEIGHT));
        let root = Canvas {
            inner: backend,
            font: &font,
        }
        .into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        match spec.kind {
            Kind::Bar | Kind::Line => draw_xy(&root, table, spec, title),
            Kind::Pie => draw_pie(&root, table, spec, title),
        }
        .map_err(|e| format!("drawing failed: {e}"))?;
        root.present().map_err(|e| e.to_string())?;
    }
    encode(&rgb)
}

fn encode(rgb: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, WIDTH, HEIGHT);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(|e| e.to_string())?;
    writer.write_image_data(rgb).map_err(|e| e.to_string())?;
    writer.finish().map_err(|e| e.to_string())?;
    Ok(out)
}

type Area<'a> = DrawingArea<Canvas<'a>, Shift>;
type DrawResult<'a> = Result<(), DrawingAreaErrorKind<<Canvas<'a> as DrawingBackend>::ErrorType>>;

/// An axis number without a trailing `.0`.
fn number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        let text = format!("{v:.2}");
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

fn short(label: &str) -> String {
    if label.chars().count() <= MAX_LABEL {
        label.to_string()
    } else {
        let cut: String = label.chars().take(MAX_LABEL - 1).collect();
        format!("{cut}…")
    }
}

fn labels(table: &Table, spec: &Spec) -> Vec<String> {
    (0..table.rows.len())
        .map(|row| match spec.x {
            Some(x) => short(&table.rows[row][x]),
            None => (row + 1).to_string(),
        })
        .collect()
}

/// Bars (grouped when there are several series) or lines, over categories 0..n placed
/// at integer x positions.
fn draw_xy<'a>(root: &Area<'a>, table: &Table, spec: &Spec, title: &str) -> DrawResult<'a> {
    let labels = labels(table, spec);
    let series: Vec<(String, Vec<Option<f64>>)> = spec
        .y
        .iter()
        .map(|&c| {
            (
                table.headers[c].clone(),
                table.numeric(c).unwrap_or_default(),
            )
        })
        .collect();
    let values = series.iter().flat_map(|(_, v)| v.iter().flatten().copied());
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    // Bars grow from zero; lines use their own range. Pad so nothing touches the frame.
    let (lo, hi) = if spec.kind == Kind::Bar {
        (lo.min(0.0), hi.max(0.0))
    } else {
        (lo, hi)
    };
    let pad = if hi > lo { (hi - lo) * 0.08 } else { 1.0 };
    let (y0, y1) = (
        if lo < 0.0 || spec.kind == Kind::Line {
            lo - pad
        } else {
            0.0
        },
        hi + pad,
    );
    let n = labels.len();
    let rotate = n > 8 || labels.iter().any(|l| l.chars().count() > 10) && n > 4;
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 24))
        .margin(16)
        .x_label_area_size(if rotate { 110 } else { 40 })
        .y_label_area_size(70)
        .build_cartesian_2d(-0.5..(n as f64 - 0.5), y0..y1)?;
    let label_of = |x: &f64| {
        let i = x.round();
        if (x - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < n {
            labels[i as usize].clone()
        } else {
            String::new()
        }
    };
    let mut x_style = TextStyle::from(("sans-serif", 14).into_font());
    if rotate {
        x_style = x_style.transform(FontTransform::Rotate90);
    }
    let x_desc = spec.x.map(|x| table.headers[x].clone()).unwrap_or_default();
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(n.min(40))
        .x_label_formatter(&label_of)
        .x_label_style(x_style)
        .x_desc(x_desc)
        .y_label_style(("sans-serif", 14))
        .y_label_formatter(&|v: &f64| number(*v))
        .light_line_style(RGBColor(235, 235, 235))
        .draw()?;

    let count = series.len();
    for (s, (name, values)) in series.iter().enumerate() {
        let color = COLORS[s % COLORS.len()];
        match spec.kind {
            Kind::Bar => {
                let width = 0.8 / count as f64;
                let base = 0f64.max(y0);
                let bars = values.iter().enumerate().filter_map(|(i, v)| {
                    let left = i as f64 - 0.4 + width * s as f64;
                    v.map(|v| {
                        Rectangle::new([(left, base), (left + width * 0.92, v)], color.filled())
                    })
                });
                chart
                    .draw_series(bars)?
                    .label(name.as_str())
                    .legend(move |(x, y)| {
                        Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.filled())
                    });
            }
            Kind::Line => {
                // A blank cell breaks the line.
                let mut segments: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
                for (i, v) in values.iter().enumerate() {
                    match v {
                        Some(v) => segments.last_mut().unwrap().push((i as f64, *v)),
                        None => segments.push(Vec::new()),
                    }
                }
                for segment in segments.iter().filter(|s| !s.is_empty()) {
                    chart.draw_series(LineSeries::new(
                        segment.iter().copied(),
                        Color::stroke_width(&color, 3),
                    ))?;
                }
                chart
                    .draw_series(values.iter().enumerate().filter_map(|(i, v)| {
                        v.map(|v| Circle::new((i as f64, v), 4, color.filled()))
                    }))?
                    .label(name.as_str())
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 14, y)], Color::stroke_width(&color, 3))
                    });
            }
            Kind::Pie => unreachable!("pies are drawn by draw_pie"),
        }
    }
    if count > 1 {
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(200, 200, 200))
            .label_font(("sans-serif", 14))
            .position(SeriesLabelPosition::UpperRight)
            .draw()?;
    }
    Ok(())
}

fn draw_pie<'a>(root: &Area<'a>, table: &Table, spec: &Spec, title: &str) -> DrawResult<'a> {
    let values = table.numeric(spec.y[0]).unwrap_or_default();
    let mut slices: Vec<(String, f64)> = labels(table, spec)
        .into_iter()
        .zip(values)
        .filter_map(|(label, v)| v.filter(|v| *v > 0.0).map(|v| (label, v)))
        .collect();
    // Largest first; beyond MAX_SLICES the rest becomes one "Other" slice.
    slices.sort_by(|a, b| b.1.total_cmp(&a.1));
    if slices.len() > MAX_SLICES {
        let other: f64 = slices[MAX_SLICES - 1..].iter().map(|s| s.1).sum();
        slices.truncate(MAX_SLICES - 1);
        slices.push(("Other".into(), other));
    }
    let root = root.titled(title, ("sans-serif", 24))?;
    let (w, h) = root.dim_in_pixel();
    let center = (w as i32 / 2, h as i32 / 2);
    let radius = (w.min(h) as f64) * 0.36;
    let sizes: Vec<f64> = slices.iter().map(|s| s.1).collect();
    let names: Vec<String> = slices.iter().map(|s| s.0.clone()).collect();
    let colors: Vec<RGBColor> = (0..slices.len())
        .map(|i| COLORS[i % COLORS.len()])
        .collect();
    let mut pie = Pie::new(&center, &radius, &sizes, &colors, &names);
    pie.label_style(("sans-serif", 16).into_font().color(&BLACK));
    pie.percentages(("sans-serif", 14).into_font().color(&WHITE));
    root.draw(&pie)?;
    Ok(())
}

/// The bitmap backend with text drawn by ab_glyph from the bundled font.
pub struct Canvas<'a> {
    inner: BitMapBackend<'a>,
    font: &'a FontRef<'a>,
}

impl Canvas<'_> {
    /// Width, and height from the top of the tallest glyph to the lowest descender.
    fn measure(&self, text: &str, size: f64) -> (f32, f32) {
        let font = self.font.as_scaled(PxScale::from(size as f32));
        let mut width = 0.0;
        let mut previous = None;
        for c in text.chars() {
            let glyph = font.glyph_id(c);
            if let Some(previous) = previous {
                width += font.kern(previous, glyph);
            }
            width += font.h_advance(glyph);
            previous = Some(glyph);
        }
        (width, font.ascent() - font.descent())
    }
}

impl DrawingBackend for Canvas<'_> {
    type ErrorType = <BitMapBackend<'static> as DrawingBackend>::ErrorType;

    fn get_size(&self) -> (u32, u32) {
        self.inner.get_size()
    }

    fn ensure_prepared(&mut self) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.ensure_prepared()
    }

    fn present(&mut self) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.present()
    }

    fn draw_pixel(
        &mut self,
        point: BackendCoord,
        color: BackendColor,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.draw_pixel(point, color)
    }

    fn draw_line<S: BackendStyle>(
        &mut self,
        from: BackendCoord,
        to: BackendCoord,
        style: &S,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.draw_line(from, to, style)
    }

    fn draw_rect<S: BackendStyle>(
        &mut self,
        upper_left: BackendCoord,
        bottom_right: BackendCoord,
        style: &S,
        fill: bool,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.draw_rect(upper_left, bottom_right, style, fill)
    }

    fn draw_path<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        path: I,
        style: &S,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.draw_path(path, style)
    }

    fn draw_circle<S: BackendStyle>(
        &mut self,
        center: BackendCoord,
        radius: u32,
        style: &S,
        fill: bool,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.draw_circle(center, radius, style, fill)
    }

    fn fill_polygon<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        vert: I,
        style: &S,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.fill_polygon(vert, style)
    }

    fn blit_bitmap(
        &mut self,
        pos: BackendCoord,
        size: (u32, u32),
        src: &[u8],
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.blit_bitmap(pos, size, src)
    }

    fn estimate_text_size<T: BackendTextStyle>(
        &self,
        text: &str,
        style: &T,
    ) -> Result<(u32, u32), DrawingErrorKind<Self::ErrorType>> {
        let (w, h) = self.measure(text, style.size());
        Ok((w.ceil() as u32, h.ceil() as u32))
    }

    fn draw_text<T: BackendTextStyle>(
        &mut self,
        text: &str,
        style: &T,
        pos: BackendCoord,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        let color = style.color();
        if color.alpha == 0.0 {
            return Ok(());
        }
        let size = style.size();
        let (width, height) = self.measure(text, size);
        let anchor = style.anchor();
        let dx = match anchor.h_pos {
            HPos::Left => 0.0,
            HPos::Right => -width,
            HPos::Center => -width / 2.0,
        };
        let dy = match anchor.v_pos {
            VPos::Top => 0.0,
            VPos::Center => -height / 2.0,
            VPos::Bottom => -height,
        };
        let transform = style.transform();
        let font = self.font.as_scaled(PxScale::from(size as f32));
        let (w, h) = self.get_size();
        let mut caret = 0.0;
        let mut previous = None;
        let mut coverage: Vec<(i32, i32, f32)> = Vec::new();
        for c in text.chars() {
            let id = font.glyph_id(c);
            if let Some(previous) = previous {
                caret += font.kern(previous, id);
            }
            previous = Some(id);
            let glyph = id.with_scale_and_position(
                font.scale(),
                ab_glyph::point(caret + dx, font.ascent() + dy),
            );
            caret += font.h_advance(id);
            if let Some(outline) = font.outline_glyph(glyph) {
                let bounds = outline.px_bounds();
                outline.draw(|x, y, alpha| {
                    coverage.push((
                        x as i32 + bounds.min.x as i32,
                        y as i32 + bounds.min.y as i32,
                        alpha,
                    ))
                });
            }
        }
        for (x, y, alpha) in coverage {
            if alpha <= 0.0 {
                continue;
            }
            let (x, y) = rotate(&transform, x, y);
            let (x, y) = (pos.0 + x, pos.1 + y);
            if x >= 0 && y >= 0 && (x as u32) < w && (y as u32) < h {
                self.inner
                    .draw_pixel((x, y), color.mix(f64::from(alpha.min(1.0))))?;
            }
        }
        Ok(())
    }
}

fn rotate(transform: &FontTransform, x: i32, y: i32) -> (i32, i32) {
    transform.transform(x, y)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{Request, choose, read_request};
    use crate::table::parse_file;

    fn decode(bytes: &[u8]) -> (u32, u32, Vec<u8>) {
        let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        buf.truncate(info.buffer_size());
        (info.width, info.height, buf)
    }

    fn pixels_of(rgb: &[u8], color: RGBColor) -> usize {
        rgb.chunks(3)
            .filter(|p| (p[0], p[1], p[2]) == (color.0, color.1, color.2))
            .count()
    }

    #[test]
    fn every_kind_renders_a_png_of_the_chart_size_with_ink() {
        let t = parse_file("region,sales,profit\nnorth,10,2\nsouth,20,1\neast,5,3\n").unwrap();
        for request in ["bar chart", "line chart", "pie of sales"] {
            let spec = choose(&t, &read_request(request, &t)).unwrap();
            let (w, h, rgb) = decode(&png(&t, &spec, "Sales").unwrap());
            assert_eq!((w, h), (WIDTH, HEIGHT), "{request}");
            // The first series colour is drawn, and text is drawn (dark pixels).
            assert!(pixels_of(&rgb, COLORS[0]) > 200, "{request}");
            let dark = rgb.chunks(3).filter(|p| p.iter().all(|c| *c < 60)).count();
            assert!(dark > 100, "{request}: {dark} dark pixels");
        }
    }

    #[test]
    fn taller_bars_have_more_pixels() {
        let t = parse_file("k,v\na,1\nb,4\n").unwrap();
        let spec = choose(&t, &Request::default()).unwrap();
        let (_, _, rgb) = decode(&png(&t, &spec, "t").unwrap());
        // Count the bar colour in the left and right halves.
        let half = |right: bool| {
            rgb.chunks(3)
                .enumerate()
                .filter(|(i, _)| ((*i as u32 % WIDTH) >= WIDTH / 2) == right)
                .filter(|(_, p)| (p[0], p[1], p[2]) == (COLORS[0].0, COLORS[0].1, COLORS[0].2))
                .count()
        };
        let (left, right) = (half(false), half(true));
        assert!(right > left * 3, "left {left}, right {right}");
    }

    #[test]
    fn many_rows_negative_values_and_gaps_render() {
        let mut csv = String::from("day,temp,rain\n");
        for i in 0..100 {
            let rain = if i % 7 == 0 {
                String::new()
            } else {
                format!("{}", i % 5)
            };
            csv.push_str(&format!("day {i},{},{rain}\n", i as f64 / 3.0 - 10.0));
        }
        let t = parse_file(&csv).unwrap();
        for request in ["bar chart", "line chart", "pie of rain"] {
            let spec = choose(&t, &read_request(request, &t)).unwrap();
            let (w, h, _) = decode(&png(&t, &spec, "Weather").unwrap());
            assert_eq!((w, h), (WIDTH, HEIGHT));
        }
    }
}
