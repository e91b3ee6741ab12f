//! `privgrid privacy …`: privacy accounting from the shell (pure computation, no grid).
//!
//! - `dp-sgd`: ε of DP-SGD (Poisson-subsampled Gaussian) by RDP accounting, and the best order;
//! - `gaussian`: exact ε of k Gaussian mechanisms with noise σ (analytic Gaussian);
//! - `calibrate`: the smallest σ for (ε, δ) (analytic Gaussian), beside the classic formula.
//!
//! Each prints a short human-readable line, or one JSON object with `--json`.

use crate::failure::{Context, Failure};
use privgrid::privacy::{calibrate_gaussian, dp_sgd_epsilon, gaussian_epsilon};
use serde::Serialize;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: PrivacyCommand,
}

#[derive(Debug, clap::Subcommand)]
enum PrivacyCommand {
    /// ε of DP-SGD by RDP accounting (Poisson-subsampled Gaussian), with the best RDP order.
    #[command(after_help = "\
Example (Abadi et al.'s MNIST setting: batch 256 of 60000, σ = 1.1, 60 epochs):
  privgrid privacy dp-sgd --sampling-rate 0.0042667 --noise-multiplier 1.1 --steps 14062 --delta 1e-5")]
    DpSgd {
        /// Sampling rate q (expected batch size / dataset size), in (0, 1].
        #[arg(long, value_name = "Q")]
        sampling_rate: f64,
        /// Noise multiplier σ (noise standard deviation / clipping norm).
        #[arg(long, value_name = "S")]
        noise_multiplier: f64,
        /// Number of training steps.
        #[arg(long, value_name = "T")]
        steps: u64,
        /// Target δ.
        #[arg(long, value_name = "D")]
        delta: f64,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Exact ε of K Gaussian mechanisms with noise σ (sensitivity 1) at δ.
    #[command(after_help = "\
Example:
  privgrid privacy gaussian --sigma 1 --delta 1e-5            # ε ≈ 4.377
  privgrid privacy gaussian --sigma 4 --delta 1e-5 --compositions 16 --json")]
    Gaussian {
        /// Noise standard deviation σ of each mechanism (sensitivity 1).
        #[arg(long, value_name = "S")]
        sigma: f64,
        /// Target δ.
        #[arg(long, value_name = "D")]
        delta: f64,
        /// How many times the mechanism is applied.
        #[arg(long, value_name = "K", default_value_t = 1)]
        compositions: u64,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// The smallest σ (sensitivity 1) giving (ε, δ)-DP, by the analytic Gaussian mechanism.
    #[command(after_help = "\
Example:
  privgrid privacy calibrate --epsilon 1 --delta 1e-5")]
    Calibrate {
        /// Target ε.
        #[arg(long, value_name = "E")]
        epsilon: f64,
        /// Target δ.
        #[arg(long, value_name = "D")]
        delta: f64,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
}

fn print(json: bool, report: &impl Serialize, text: String) -> Result<(), Failure> {
    if json {
        println!(
            "{}",
            serde_json::to_string(report).context(|| "cannot format JSON".into())?
        );
    } else {
        println!("{text}");
    }
    Ok(())
}

impl Args {
    pub async fn run(self) -> Result<(), Failure> {
        match self.command {
            PrivacyCommand::DpSgd {
                sampling_rate,
                noise_multiplier,
                steps,
                delta,
                json,
            } => {
                let r = dp_sgd_epsilon(sampling_rate, noise_multiplier, steps, delta)
                    .context(|| "cannot account for DP-SGD".into())?;
                let text = format!(
                    "epsilon = {:.4} at delta = {} (RDP, best order {})",
                    r.epsilon, r.delta, r.best_order
                );
                print(json, &r, text)
            }
            PrivacyCommand::Gaussian {
                sigma,
                delta,
                compositions,
                json,
            } => {
                let r = gaussian_epsilon(sigma, delta, compositions)
                    .context(|| "cannot account for the Gaussian mechanism".into())?;
                let text = format!(
                    "epsilon = {:.4} at delta = {} ({} composition(s) of sigma {}: effective sigma {:.4}; RDP bound {:.4})",
                    r.epsilon, r.delta, r.compositions, r.sigma, r.effective_sigma, r.rdp_epsilon
                );
                print(json, &r, text)
            }
            PrivacyCommand::Calibrate {
                epsilon,
                delta,
                json,
            } => {
                let r = calibrate_gaussian(epsilon, delta).context(|| "cannot calibrate".into())?;
                let classic = if r.classic_valid {
                    format!("classic formula: {:.4}", r.classic_sigma)
                } else {
                    format!(
                        "classic formula {:.4} is not valid for epsilon >= 1",
                        r.classic_sigma
                    )
                };
                print(
                    json,
                    &r,
                    format!(
                        "sigma = {:.4} for epsilon = {}, delta = {} ({classic})",
                        r.sigma, r.epsilon, r.delta
                    ),
                )
            }
        }
    }
}
