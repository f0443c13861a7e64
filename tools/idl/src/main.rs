use anyhow::Result;

/// `cargo run -p media-idl` regenerates `idl/*.json`; `-- --check` only verifies them.
fn main() -> Result<()> {
    media_idl::prepare_environment();
    let root = media_idl::workspace_root();
    match std::env::args().nth(1).as_deref() {
        None => media_idl::write_all(&root),
        Some("--check") => media_idl::check_all(&root),
        Some(other) => anyhow::bail!("unknown argument {other}; usage: media-idl [--check]"),
    }
}
