//! Writes the synthetic demo figures as PNG and SVG: `cargo run -p blb-plot --example
//! demo_figure [OUTPUT_STEM]` (default `/tmp/blb-plot-example`) writes the experiment-shaped
//! figure to `STEM.png` and `STEM.svg`, and the figure using every feature to
//! `STEM-features.png` and `STEM-features.svg`.

use std::path::PathBuf;

fn main() -> Result<(), blb_plot::PlotError> {
    let stem = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "/tmp/blb-plot-example".to_string());
    for (suffix, fig) in [
        ("", blb_plot::demo::figure()),
        ("-features", blb_plot::demo::features()),
    ] {
        for (ext, w, h) in [("png", 1200, 900), ("svg", 1200, 900)] {
            let path = PathBuf::from(format!("{stem}{suffix}.{ext}"));
            if ext == "png" {
                blb_plot::render_png(&fig, &path, w, h)?;
            } else {
                blb_plot::render_svg(&fig, &path, w, h)?;
            }
            println!("wrote {}", path.display());
        }
    }
    Ok(())
}
