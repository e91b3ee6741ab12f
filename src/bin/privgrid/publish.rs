//! `privgrid publish`: an owner publishes a CSV table as a dataset on a node.

use crate::failure::{Context, Failure};
use crate::secrets::read_password;
use crate::serving::{TlsArgs, network_address};
use privgrid::Tensor;
use privgrid::pointer::Client;
use privgrid::transport::Address;
use std::path::PathBuf;

/// Publish a CSV table as a dataset on a node; prints the dataset's id last.
///
/// The table is numeric, comma-separated, one row per line (a header line is skipped; a .gz
/// file is decompressed). The command logs in as an owner (password from PRIVGRID_PASSWORD or the first line of standard input),
/// uploads the table with its description, tags and access list, and prints the new dataset's
/// id (32 hex digits) as the last line of its output. Scientists find it by its tags; only the
/// users given with --allow (and the node's owners) may read its raw values.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Example:
  ID=$(PRIVGRID_PASSWORD=bob-secret privgrid publish --node tcp://127.0.0.1:5001 --user bob \\
         --csv births.csv --tags '#February,#birth-records' --allow bob,ana,alice \\
         --description 'February births: weight (kg), height (cm)' --bounds 0,100 | tail -n 1)")]
pub struct Args {
    /// The node's address (tcp://HOST:PORT or http://HOST:PORT).
    #[arg(long, value_name = "URL", value_parser = network_address)]
    node: Address,

    /// An owner of the node to log in as.
    #[arg(long)]
    user: String,

    /// The CSV file to publish.
    #[arg(long, value_name = "FILE")]
    csv: PathBuf,

    /// What the data is, for people searching the grid.
    #[arg(long, default_value = "")]
    description: String,

    /// Comma-separated tags to find the dataset by, e.g. '#February,#birth-records'.
    #[arg(long, value_delimiter = ',', value_name = "TAGS")]
    tags: Vec<String>,

    /// Comma-separated users who may read the raw values (owners always may).
    #[arg(long, value_delimiter = ',', value_name = "USERS")]
    allow: Vec<String>,

    /// Public bounds LO,HI on every value, used later to calibrate differentially private
    /// releases (e.g. --bounds 0,100 or --bounds=-1,1).
    #[arg(long, value_name = "LO,HI", value_parser = parse_bounds, allow_hyphen_values = true)]
    bounds: Option<Bounds>,

    #[command(flatten)]
    tls: TlsArgs,
}

/// Value bounds: `low <= high`, both finite.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Bounds {
    low: f32,
    high: f32,
}

fn parse_bounds(text: &str) -> Result<Bounds, String> {
    let bad = || format!("{text} is not LO,HI with finite numbers LO <= HI");
    let (low, high) = text.split_once(',').ok_or_else(bad)?;
    let low: f32 = low.trim().parse().map_err(|_| bad())?;
    let high: f32 = high.trim().parse().map_err(|_| bad())?;
    if low.is_finite() && high.is_finite() && low <= high {
        Ok(Bounds { low, high })
    } else {
        Err(bad())
    }
}

/// Names from a comma-separated list, trimmed, without empty entries.
fn cleaned(names: &[String]) -> Vec<String> {
    names
        .iter()
        .map(|n| n.trim())
        .filter(|n| !n.is_empty())
        .map(str::to_string)
        .collect()
}

impl Args {
    /// Loads the table, logs in and publishes it.
    pub async fn run(self) -> Result<(), Failure> {
        let csv = self.csv.display();
        let table = Tensor::from_csv_path(&self.csv).context(|| format!("cannot load {csv}"))?;
        let password = read_password(&self.user)?;
        let node = &self.node;
        let client = Client::connect_with(node.clone(), self.tls.transport()?)
            .await
            .context(|| format!("cannot reach the node at {node}"))?;
        let session = client
            .login(&self.user, &password)
            .await
            .context(|| format!("cannot log in to {} as {}", client.node(), self.user))?;
        let shape = table.shape().to_vec();
        let tags = cleaned(&self.tags);
        let allowed = cleaned(&self.allow);
        let mut publish = session
            .publish(table)
            .description(self.description.clone())
            .tags(tags.clone())
            .allow(allowed.clone());
        if let Some(Bounds { low, high }) = self.bounds {
            publish = publish.bounds(low, high);
        }
        let pointer = publish
            .send()
            .await
            .context(|| format!("cannot publish {csv} on {}", client.node()))?;
        println!(
            "published {csv} ({}) on {} as {}; tags: {}; readable by: {}",
            shape_text(&shape),
            client.node(),
            self.user,
            list_text(&tags),
            list_text(&allowed),
        );
        println!("{}", pointer.id());
        Ok(())
    }
}

fn shape_text(shape: &[usize]) -> String {
    shape
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("x")
}

fn list_text(names: &[String]) -> String {
    if names.is_empty() {
        "(owners only)".to_string()
    } else {
        names.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_parse_and_reject() {
        assert_eq!(
            parse_bounds("-1.5, 100"),
            Ok(Bounds {
                low: -1.5,
                high: 100.0
            })
        );
        for bad in ["5,1", "1", "a,b", "0,inf", "NaN,1", "1,2,3"] {
            assert!(parse_bounds(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn lists_are_trimmed_and_blank_entries_dropped() {
        let raw = vec![" bob".to_string(), "".to_string(), "alice ".to_string()];
        assert_eq!(cleaned(&raw), vec!["bob".to_string(), "alice".to_string()]);
    }
}
