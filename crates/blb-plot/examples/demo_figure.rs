//! Writes the synthetic demo figure as PNG and SVG: `cargo run -p blb-plot --example
//! demo_figure [OUTPUT_STEM]` (default `/tmp/blb-plot-example`).

use std::path::PathBuf;

fn main() -> Result<(), blb_plot::PlotError> {
    let stem = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "/tmp/blb-plot-example".to_string());
    let fig = blb_plot::demo::figure();
    for (ext, w, h) in [("png", 1200, 900), ("svg", 1200, 900)] {
        let path = PathBuf::from(format!("{stem}.{ext}"));
        if ext == "png" {
            blb_plot::render_png(&fig, &path, w, h)?;
        } else {
            blb_plot::render_svg(&fig, &path, w, h)?;
        }
        println!("wrote {}", path.display());
    }
    Ok(())
}
