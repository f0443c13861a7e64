//! Fails when a committed IDL under `idl/` no longer matches the programs. This binary holds a
//! single test, so adjusting its environment for the builder races with nothing.

#[test]
fn committed_idls_match_the_programs() {
    media_idl::prepare_environment();
    media_idl::check_all(&media_idl::workspace_root()).unwrap();
}
