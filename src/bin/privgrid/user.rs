//! `privgrid user …`: manage a node's users directly in its database file.

use crate::failure::{Context, Failure};
use crate::secrets::read_password;
use privgrid::node::{AuthConfig, Authenticator, SqliteStore};
use privgrid::protocol::Role;
use std::path::PathBuf;
use std::sync::Arc;

/// Manage the users of a node's database.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: UserCommand,
}

#[derive(Debug, clap::Subcommand)]
enum UserCommand {
    Add(AddArgs),
}

/// Add a user to a node's database (or reset an existing user's password and role).
///
/// The password is read from the environment variable PRIVGRID_PASSWORD or, if that is unset,
/// from the first line of standard input; never from an argument. It is stored only as an
/// argon2id hash. Works whether or not the node is running.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  PRIVGRID_PASSWORD=bob-secret privgrid user add --db hospital.db --name bob --role owner
  printf '%s\\n' \"$ALICE_PASSWORD\" | privgrid user add --db hospital.db --name alice --role scientist")]
struct AddArgs {
    /// The node's SQLite database (created if absent).
    #[arg(long, value_name = "FILE")]
    db: PathBuf,

    /// The user's name.
    #[arg(long)]
    name: String,

    /// owner (publishes, manages users, reads everything) or scientist (reads raw values only
    /// where allowed).
    #[arg(long, value_parser = parse_role)]
    role: Role,
}

fn parse_role(text: &str) -> Result<Role, String> {
    text.parse::<Role>().map_err(|e| e.to_string())
}

impl Args {
    /// Runs the chosen user command.
    pub async fn run(self) -> Result<(), Failure> {
        match self.command {
            UserCommand::Add(args) => args.run(),
        }
    }
}

impl AddArgs {
    fn run(self) -> Result<(), Failure> {
        let password = read_password(&self.name)?;
        let db = self.db.display();
        let store = SqliteStore::open(&self.db).context(|| format!("cannot open database {db}"))?;
        let auth = Authenticator::new(Arc::new(store), AuthConfig::default())
            .context(|| "cannot set up password hashing".to_string())?;
        auth.add_user(&self.name, &password, self.role)
            .context(|| format!("cannot add user {} to {db}", self.name))?;
        println!("user {} ({}) saved in {db}", self.name, self.role);
        Ok(())
    }
}
