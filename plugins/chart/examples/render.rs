//! Renders a chart natively, as the plugin would: `cargo run -p chart --example render --
//! REQUEST FILE.csv OUT.png` (run in plugins/). Prints the reply text or explanation.

use chart::{Answer, answer};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [request, file, out] = args.as_slice() else {
        eprintln!("usage: render REQUEST FILE.csv OUT.png");
        std::process::exit(2);
    };
    let bytes = std::fs::read(file).expect("read the table file");
    let files = [(file.as_str(), "text/csv", bytes.as_slice())];
    match answer(request, &files, |_| Err("no LLM here".into())) {
        Answer::Chart { png, text, .. } => {
            std::fs::write(out, png).expect("write the PNG");
            println!("{text} -> {out}");
        }
        Answer::Explain(why) => println!("{why}"),
    }
}
