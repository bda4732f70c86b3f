fn main() -> std::process::ExitCode {
    ccsync::run()
}
