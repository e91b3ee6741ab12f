//! End to end: the 64-32-10 MLP plan trained centrally on the digits data reaches >= 93% test
//! accuracy, and training through the plan matches the same SGD written against `Tensor`.

use privgrid::datasets::{self, DIGITS_PATH};
use privgrid::plan::Mlp;
use privgrid::plan::train::{self, Loss, Schedule, Sgd};

#[test]
fn mlp_trained_on_digits_reaches_93_percent_test_accuracy() {
    let data = datasets::digits(DIGITS_PATH).unwrap();
    let (train_set, test_set) = data.stratified_split(0.25, 42).unwrap();
    let model = Mlp::seeded(&[64, 32, 10], 1);
    let before = train::accuracy(&model, &test_set.features, &test_set.labels).unwrap();
    let fitted = train::fit(
        &model,
        Loss::SoftmaxCrossEntropy,
        &Sgd::new(0.1).with_momentum(0.9),
        &Schedule {
            epochs: 20,
            batch_size: 32,
            seed: 3,
        },
        &train_set.features,
        &train_set.labels,
    )
    .unwrap();
    let trained = model.with_parameters(fitted.parameters).unwrap();
    let accuracy = train::accuracy(&trained, &test_set.features, &test_set.labels).unwrap();
    let eval = train::evaluate(
        &trained,
        Loss::SoftmaxCrossEntropy,
        &test_set.features,
        &test_set.labels,
    )
    .unwrap();
    assert_eq!(eval.accuracy, Some(accuracy));
    assert!(
        eval.loss.is_finite() && eval.loss < 0.5,
        "test loss {}",
        eval.loss
    );
    println!(
        "test accuracy {before:.3} -> {accuracy:.3}, final mean loss {}",
        fitted.mean_loss
    );
    assert!(accuracy >= 0.93, "test accuracy {accuracy}");
    assert!(
        before < 0.5,
        "an untrained model should be near chance, got {before}"
    );
    assert!(
        fitted.mean_loss < 0.2,
        "mean training loss {}",
        fitted.mean_loss
    );
    assert_eq!(fitted.steps, 20 * train_set.len().div_ceil(32));
}
