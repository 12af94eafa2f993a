//! ha-compat: see the library crate for the command handling.

fn main() {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let code = ha_compat::run(args, &mut std::io::stdout(), &mut std::io::stderr());
    std::process::exit(code);
}
