//! Starts one throwaway PostgreSQL cluster for a whole test run and prints its
//! superuser URL (one line on stdout), then runs until SIGTERM/SIGINT, when it
//! stops the server and deletes its data. The test command exports that line
//! as `ONTASK_TEST_DATABASE_URL`; each test creates its own database in it.
use std::io::Write as _;

fn main() -> anyhow::Result<()> {
    let cluster = ontask_testkit::pg::Cluster::start()?;
    let mut stdout = std::io::stdout();
    writeln!(stdout, "{}", cluster.url())?;
    stdout.flush()?;
    eprintln!("PostgreSQL at {}", cluster.url());
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        anyhow::Ok(())
    })?;
    drop(cluster);
    Ok(())
}
