//! A preview of use case 3 (encrypted ML as a service), in process: a model trained on the
//! digits data is secret-shared among three parties with a crypto provider, queried with
//! secret-shared inputs, and must predict exactly what the plaintext model predicts. Serving it
//! across grid nodes is a later step; the protocols are the same.

use privgrid::datasets;
use privgrid::plan::Mlp;
use privgrid::plan::train::{self, Loss, Schedule, Sgd};
use privgrid::smpc::{
    FixedPoint, SharedTensor, Simulator, SmpcBackend, SmpcError, compare, reconstruct,
    share_fixed_for,
};

/// Trains, shares, predicts over shares; returns (agreeing predictions, queries).
pub fn run() -> privgrid::Result<(usize, usize)> {
    println!("== Encrypted inference (in-process preview: 3 parties + crypto provider) ==");
    let data = datasets::digits(datasets::DIGITS_PATH)?;
    let (train_set, test_set) = data.stratified_split(0.25, 7)?;
    let model = Mlp::seeded(&[64, 32, 10], 11);
    let fitted = train::fit(
        &model,
        Loss::SoftmaxCrossEntropy,
        &Sgd::new(0.1).with_momentum(0.9),
        &Schedule {
            epochs: 15,
            batch_size: 32,
            seed: 3,
        },
        &train_set.features,
        &train_set.labels,
    )?;
    let model = model.with_parameters(fitted.parameters)?;
    let accuracy = train::accuracy(&model, &test_set.features, &test_set.labels)?;
    println!(
        "1. trained a 64-32-10 MLP in plaintext: test accuracy {:.1}%",
        100.0 * accuracy
    );

    let queries = test_set.features.rows(0..100)?;
    let parties = 3;
    let fx = FixedPoint::default();
    let shared_input = share_fixed_for(&queries, parties, fx)?;
    let mut shared_params: Vec<Vec<SharedTensor>> = vec![Vec::new(); parties];
    for tensor in model.parameters().tensors() {
        for (party, share) in share_fixed_for(tensor, parties, fx)?
            .into_iter()
            .enumerate()
        {
            shared_params[party].push(share);
        }
    }
    println!(
        "2. parameters and {} queries split into {parties} additive shares each",
        queries.shape()[0]
    );

    let started = std::time::Instant::now();
    let outputs = Simulator::new(parties)?.run_with_stats(|p| {
        let me = p.id();
        let params: Vec<&SharedTensor> = shared_params[me].iter().collect();
        let logits = model
            .graph()
            .run(&mut SmpcBackend::new(p), &[&shared_input[me]], &params)
            .map_err(|e| SmpcError::Parties(e.to_string()))?;
        Ok(compare::argmax(p, &logits[0])?.index)
    })?;
    let elapsed = started.elapsed();
    let (shares, stats): (Vec<SharedTensor>, Vec<_>) = outputs.into_iter().unzip();
    // The class indices come back as ring integers; only the caller, holding every share,
    // reconstructs them.
    let predicted: Vec<u64> = reconstruct(&shares)?.data().to_vec();
    let plaintext = model.run(&[&queries])?.remove(0).argmax(1)?;
    let agree = predicted
        .iter()
        .zip(plaintext.to_vec())
        .filter(|(a, b)| **a == *b as u64)
        .count();
    println!(
        "3. predicted over shares in {elapsed:.2?} ({} rounds, {:.1} MB sent by party 0); only the caller reconstructs the classes",
        stats[0].rounds,
        stats[0].bytes_sent as f64 / 1e6
    );
    println!(
        "4. {agree} of {} predictions equal the plaintext model's",
        plaintext.len()
    );
    Ok((agree, plaintext.len()))
}
