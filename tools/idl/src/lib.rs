//! Builds the Anchor IDL of each program with `anchor-lang-idl` (the same builder the Anchor
//! CLI uses: it compiles the program's `idl-build` feature and reads what its generated test
//! prints) and compares it with the JSON committed under `idl/`.
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};

/// (program crate directory, IDL file name), relative to the workspace root.
pub const PROGRAMS: [(&str, &str); 2] = [
    ("programs/media-network", "media_network.json"),
    ("programs/media-governance", "media_governance.json"),
];

/// The checkout this runs in. Cargo sets `CARGO_MANIFEST_DIR` for `cargo run` and `cargo test`
/// at run time; it is preferred to the compile-time value because a target directory shared
/// by several clones may reuse a binary built in another (possibly deleted) checkout.
pub fn workspace_root() -> PathBuf {
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    let root = manifest_dir.join("../..");
    root.canonicalize().unwrap_or(root)
}

/// Prepares this process's environment for the builder. Call it first thing in `main` (or a
/// test binary's single test), before any other thread exists: rustup sets `RUSTUP_TOOLCHAIN`
/// for every process cargo starts, and the builder would turn it into a literal
/// `cargo +toolchain` and try to install that toolchain. (The builder's own RUSTFLAGS give its
/// artifacts different hashes, so they sit beside the normal build's without evicting them.)
pub fn prepare_environment() {
    std::env::remove_var("RUSTUP_TOOLCHAIN");
}

/// The IDL of the program in `program_dir`, as pretty JSON with a trailing newline.
pub fn build(program_dir: &Path) -> Result<String> {
    let idl = anchor_lang_idl::build::IdlBuilder::new()
        .program_path(program_dir.to_path_buf())
        .cargo_args(vec!["--lib".into(), "--locked".into()])
        .build()
        .with_context(|| format!("building the IDL of {}", program_dir.display()))?;
    Ok(serde_json::to_string_pretty(&idl)? + "\n")
}

/// Writes every program's IDL under `idl/`.
pub fn write_all(root: &Path) -> Result<()> {
    std::fs::create_dir_all(root.join("idl"))?;
    for (dir, file) in PROGRAMS {
        let json = build(&root.join(dir))?;
        std::fs::write(root.join("idl").join(file), json)?;
    }
    Ok(())
}

/// Fails, naming the stale files, if a committed IDL differs from what the code produces.
pub fn check_all(root: &Path) -> Result<()> {
    let mut stale = Vec::new();
    for (dir, file) in PROGRAMS {
        let fresh = build(&root.join(dir))?;
        let path = root.join("idl").join(file);
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        if committed != fresh {
            stale.push(path.display().to_string());
        }
    }
    if !stale.is_empty() {
        bail!(
            "stale IDL: {} (regenerate with `cargo run -p media-idl`)",
            stale.join(", ")
        );
    }
    Ok(())
}
