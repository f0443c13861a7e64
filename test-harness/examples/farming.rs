//! The farming simulation (issue 15): prints, per strategy, the farmer's cumulative P&L, the
//! honest relays' rewards, the emission and the burn for every epoch, and draws the farmer's
//! cumulative P&L and the net supply change (emitted − burned) per strategy into a PNG.
//!
//! `cargo run --release -p media-test-harness --example farming -- [EPOCHS] [PNG]`
//! (defaults: 12 epochs, target/farming.png); `bench/economics.sh` runs it.
use media_test_harness::farming::{simulate, strategies, table, Row};
use plotters::prelude::*;
use std::path::PathBuf;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let epochs: u64 = match args.next() {
        Some(n) => n.parse().map_err(|e| format!("EPOCHS {n:?}: {e}"))?,
        None => 12,
    };
    let png = args
        .next()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target/farming.png"));
    let mut runs = Vec::new();
    for strategy in strategies() {
        let rows = simulate(&strategy, epochs).await;
        println!("{}", table(&strategy, &rows));
        runs.push((strategy.name, rows));
    }
    println!("MEDIA base units (10^-6 MEDIA); payment units valued one to one (the market price).");
    match draw(&runs, &png) {
        Ok(()) => println!("chart: {}", png.display()),
        Err(e) => eprintln!("no chart ({e}); the tables above are complete"),
    }
    Ok(())
}

/// A TrueType font for the chart's text: Debian's DejaVu Sans (fonts-dejavu-core).
const FONT: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";

fn draw(
    runs: &[(&str, Vec<Row>)],
    png: &std::path::Path,
) -> Result<(), Box<dyn std::error::Error>> {
    let font = std::fs::read(FONT).map_err(|e| format!("{FONT}: {e}"))?;
    plotters::style::register_font(
        "sans-serif",
        FontStyle::Normal,
        Box::leak(font.into_boxed_slice()),
    )
    .map_err(|_| "the font does not load")?;
    if let Some(dir) = png.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let root = BitMapBackend::new(png, (1200, 500)).into_drawing_area();
    root.fill(&WHITE)?;
    let (left, right) = root.split_horizontally(600);
    let epochs = runs
        .iter()
        .flat_map(|(_, r)| r.iter().map(|r| r.epoch))
        .max()
        .unwrap_or(1);
    let series = |pick: fn(&Row) -> i128| -> Vec<(&str, Vec<(u64, i128)>)> {
        runs.iter()
            .map(|(name, rows)| (*name, rows.iter().map(|r| (r.epoch, pick(r))).collect()))
            .collect()
    };
    let panels = [
        (
            left,
            "farmer's cumulative P&L (MEDIA units)",
            series(|r| r.farmer_pnl),
        ),
        (
            right,
            "net supply change: emitted - burned",
            series(|r| i128::from(r.emitted) - i128::from(r.burned)),
        ),
    ];
    for (area, title, lines) in panels {
        let values = lines.iter().flat_map(|(_, l)| l.iter().map(|(_, v)| *v));
        let (low, high) = values.fold((0i128, 0i128), |(lo, hi), v| (lo.min(v), hi.max(v)));
        let pad = ((high - low) / 10).max(1);
        let mut chart = ChartBuilder::on(&area)
            .caption(title, ("sans-serif", 20))
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(90)
            .build_cartesian_2d(0u64..epochs, (low - pad) as f64..(high + pad) as f64)?;
        chart.configure_mesh().x_desc("epoch").draw()?;
        for (i, (name, line)) in lines.iter().enumerate() {
            let color = Palette99::pick(i).to_rgba();
            chart
                .draw_series(LineSeries::new(
                    line.iter().map(|(e, v)| (*e, *v as f64)),
                    color.stroke_width(2),
                ))?
                .label(*name)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()?;
    }
    root.present()?;
    Ok(())
}
