//! `privgrid privacy …` from the shell: published values, JSON output, and an independent
//! check of the calibrated σ with the normal CDF.

mod cli_common;

use cli_common::{assert_fails, privgrid, run, stdout_of_success};
use serde_json::Value;

fn json(args: &[&str]) -> Value {
    let mut all = vec!["privacy"];
    all.extend_from_slice(args);
    all.push("--json");
    let out = stdout_of_success(&run(privgrid(&all), ""));
    serde_json::from_str(out.trim()).expect("one JSON object")
}

#[test]
fn dp_sgd_matches_the_published_mnist_setting() {
    let q = format!("{}", 256.0 / 60000.0);
    let r = json(&[
        "dp-sgd",
        "--sampling-rate",
        &q,
        "--noise-multiplier",
        "1.1",
        "--steps",
        "14062",
        "--delta",
        "1e-5",
    ]);
    let epsilon = r["epsilon"].as_f64().unwrap();
    assert!((epsilon - 2.5966).abs() < 1e-3, "{epsilon}");
    assert!(r["best_order"].as_f64().unwrap() > 1.0);
    let text = stdout_of_success(&run(
        privgrid(&[
            "privacy",
            "dp-sgd",
            "--sampling-rate",
            &q,
            "--noise-multiplier",
            "1.1",
            "--steps",
            "14062",
            "--delta",
            "1e-5",
        ]),
        "",
    ));
    assert!(text.contains("epsilon = 2.59"), "{text}");
}

#[test]
fn gaussian_matches_the_published_analytic_value() {
    let r = json(&["gaussian", "--sigma", "1", "--delta", "1e-5"]);
    assert!(
        (r["epsilon"].as_f64().unwrap() - 4.3772).abs() < 1e-3,
        "{r}"
    );
    // k compositions of σ equal one Gaussian with σ/√k.
    let k = json(&[
        "gaussian",
        "--sigma",
        "2",
        "--delta",
        "1e-5",
        "--compositions",
        "4",
    ]);
    assert!(
        (k["epsilon"].as_f64().unwrap() - r["epsilon"].as_f64().unwrap()).abs() < 1e-9,
        "{k}"
    );
}

fn phi(x: f64) -> f64 {
    0.5 * libm::erfc(-x / std::f64::consts::SQRT_2)
}

#[test]
fn calibrated_sigma_gives_exactly_the_asked_delta() {
    for (epsilon, delta) in [(1.0, 1e-5), (0.5, 1e-6), (3.0, 1e-3)] {
        let r = json(&[
            "calibrate",
            "--epsilon",
            &epsilon.to_string(),
            "--delta",
            &delta.to_string(),
        ]);
        let sigma = r["sigma"].as_f64().unwrap();
        // Balle and Wang (2018), Theorem 8, with sensitivity 1.
        let achieved = phi(0.5 / sigma - epsilon * sigma)
            - epsilon.exp() * phi(-0.5 / sigma - epsilon * sigma);
        assert!(
            (achieved - delta).abs() / delta < 1e-3,
            "σ {sigma} gives δ {achieved}, asked {delta}"
        );
        assert!(
            sigma < r["classic_sigma"].as_f64().unwrap(),
            "the analytic σ is never larger"
        );
    }
}

#[test]
fn bad_parameters_are_one_line_errors() {
    assert_fails(
        &run(
            privgrid(&["privacy", "calibrate", "--epsilon", "0", "--delta", "1e-5"]),
            "",
        ),
        1,
        "epsilon",
    );
    assert_fails(
        &run(
            privgrid(&["privacy", "gaussian", "--sigma", "1", "--delta", "2"]),
            "",
        ),
        1,
        "delta",
    );
    assert_fails(
        &run(
            privgrid(&[
                "privacy",
                "dp-sgd",
                "--sampling-rate",
                "1.5",
                "--noise-multiplier",
                "1",
                "--steps",
                "1",
                "--delta",
                "1e-5",
            ]),
            "",
        ),
        1,
        "",
    );
    assert_fails(
        &run(privgrid(&["privacy", "gaussian", "--sigma", "1"]), ""),
        2,
        "--delta",
    );
}
