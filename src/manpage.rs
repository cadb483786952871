//! Man pages rendered from the clap definition: `keychain.1` and one page per subcommand.
//! A test regenerates them and fails when the committed ones under `man/` are stale.

use clap::CommandFactory;

/// Every page as (file name, roff text).
pub fn render_all() -> Vec<(String, Vec<u8>)> {
    let command = crate::cli::Cli::command();
    let mut pages = Vec::new();
    pages.push(("keychain.1".to_string(), render(command.clone())));
    for sub in command.get_subcommands() {
        let name = format!("keychain-{}", sub.get_name());
        let sub = sub
            .clone()
            .name(name.clone())
            .version(env!("CARGO_PKG_VERSION"));
        pages.push((format!("{name}.1"), render(sub)));
    }
    pages
}

fn render(command: clap::Command) -> Vec<u8> {
    let mut out = Vec::new();
    clap_mangen::Man::new(command)
        .render(&mut out)
        .expect("rendering to memory cannot fail");
    out
}
