//! Writes a built-in (or file) scenario's pcap and labels: `simgen <name|file> <out.pcap> [labels.json]`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let scenario = match stormwatch_sim::builtin(&args[1]) {
        Some(s) => s,
        None => {
            let text = std::fs::read_to_string(&args[1]).unwrap();
            stormwatch_sim::parse_scenario(&args[1], &text)
        }
    };
    let s = match scenario {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let g = stormwatch_sim::generate(&s).unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(2)
    });
    std::fs::write(&args[2], &g.pcap).unwrap();
    if let Some(l) = args.get(3) {
        std::fs::write(l, g.labels.to_json()).unwrap();
    }
    eprintln!(
        "{} frames, {} bytes, {} streams",
        g.frames,
        g.pcap.len(),
        g.streams.len()
    );
}
