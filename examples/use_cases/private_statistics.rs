//! Use case 1, private statistics, as a narrated scenario shared by the `private_statistics`
//! and `tour` examples.

use privgrid::grid::{Credentials, Gateway, GatewayConfig, Grid};
use privgrid::node::{Node, NodeConfig};
use privgrid::pointer::Client;
use privgrid::privacy::{Budget, PrivacyError};
use privgrid::protocol::{BudgetScope, DpRelease, RequestKind, Role};
use privgrid::{Error, Tensor};

/// Five February birth records: weight (kg), height (cm).
pub const BIRTHS: [[f32; 2]; 5] = [
    [3.2, 49.0],
    [3.5, 51.0],
    [2.9, 48.0],
    [4.1, 53.0],
    [3.7, 50.5],
];

fn address(transport: &str, name: &str) -> String {
    match transport {
        "mem" => format!("mem://{name}"),
        other => format!("{other}://127.0.0.1:0"),
    }
}

/// Runs the scenario over `transport` (`mem`, `tcp` or `http`), printing each step; returns
/// the remote and the direct averages of weight and height.
pub async fn run(transport: &str) -> privgrid::Result<([f32; 2], [f32; 2])> {
    println!("== Private statistics over {transport} ==");
    // A data owner runs a gateway and a node (normally two processes; here, one program).
    let secret = "grid-registration-secret";
    let gateway = Gateway::new(GatewayConfig::default().secret(secret))
        .serve(address(transport, "gateway"))
        .await?;
    let mut hospital = Node::new(
        NodeConfig::new("hospital")
            .user("bob", "bob-secret", Role::Owner)
            .user("alice", "alice-secret", Role::Scientist)
            .user("eve", "eve-secret", Role::Scientist)
            .gateway_secret(secret),
    )
    .serve(address(transport, "hospital"))
    .await?;
    hospital.join(gateway.url()).await?;
    println!(
        "1. gateway at {}, node 'hospital' at {} joined it",
        gateway.url(),
        hospital.url()
    );

    // The data owner publishes.
    let owner = Client::connect(hospital.url())
        .await?
        .login("bob", "bob-secret")
        .await?;
    let births = Tensor::from_shape_vec(&[5, 2], BIRTHS.iter().flatten().copied().collect())?;
    let records = owner
        .publish(births)
        .description("February births: weight (kg), height (cm)")
        .tags(["#February", "#birth-records"])
        .allow(["bob", "ana", "alice"])
        .bounds(0.0, 100.0)
        .send()
        .await?;
    println!(
        "2. bob published {} records as {} (allowed: bob, ana, alice)",
        BIRTHS.len(),
        records.id()
    );

    // A data scientist searches the grid.
    let grid = Grid::connect(gateway.url(), Credentials::new("alice", "alice-secret")).await?;
    let found = grid.search(["#February", "#birth-records"]).await?;
    let data = &found["hospital"][0];
    println!(
        "3. alice searched the gateway and found on 'hospital': {:?} {:?}",
        data.description(),
        data.shape().unwrap_or(&[])
    );

    // A user who is not allowed is refused raw values.
    let eve = Grid::connect(gateway.url(), Credentials::new("eve", "eve-secret")).await?;
    let eves = eve.search(["#February", "#birth-records"]).await?;
    match eves["hospital"][0].get().await {
        Err(Error::PermissionDenied(reason)) => {
            println!("4. eve (not allowed) asked for the raw data: refused ({reason})")
        }
        other => {
            return Err(Error::InvalidInput(format!(
                "eve should have been refused, got {other:?}"
            )));
        }
    }

    // Computation happens on the node; only the aggregates come back.
    let weight_sum = data.column(0).sum(); // lazy: returns a Pointer at once
    let height_sum = data.column(1).sum();
    let weight_avg = (weight_sum.get().await? / 5.0).item()?;
    let height_avg = (height_sum.get().await? / 5.0).item()?;
    let direct = [
        BIRTHS.iter().map(|r| r[0]).sum::<f32>() / 5.0,
        BIRTHS.iter().map(|r| r[1]).sum::<f32>() / 5.0,
    ];
    println!("5. alice computed the sums remotely and fetched them:");
    println!(
        "   average weight {weight_avg:.3} kg (direct: {:.3})",
        direct[0]
    );
    println!(
        "   average height {height_avg:.3} cm (direct: {:.3})",
        direct[1]
    );

    // eve may not see raw values, but bob grants her a privacy budget for DP releases.
    owner
        .set_budget(
            BudgetScope::user_on("eve", records.id()),
            Budget::pure(1.0)?,
        )
        .await?;
    let eve_data = &eves["hospital"][0];
    // Clamping to a plausible weight range is public; the node then bounds the mean's
    // sensitivity at (5 - 2) / 5 kg instead of (100 - 0) / 5.
    let dp_weight = eve_data.column(0).clamp(2.0, 5.0).mean();
    let release = dp_weight.get_dp(DpRelease::laplace(0.6)).await?;
    println!(
        "6. bob gave eve a budget of ε = 1; her DP average weight: {:.2} kg \
         (sensitivity {:.2} kg, noise scale ≈ {:.1} kg, cost ε = {}, remaining ε = {})",
        release.item().unwrap_or(f64::NAN),
        release.sensitivity,
        release.sensitivity / release.cost.epsilon,
        release.cost.epsilon,
        release.remaining.epsilon
    );
    match dp_weight.get_dp(DpRelease::laplace(0.6)).await {
        Err(Error::Privacy(PrivacyError::BudgetExceeded {
            spent,
            requested,
            remaining,
        })) => println!(
            "7. a second release is refused: budget exhausted (spent ε = {}, requested ε = {}, remaining ε = {})",
            spent.epsilon, requested.epsilon, remaining.epsilon
        ),
        other => {
            return Err(Error::InvalidInput(format!(
                "eve's budget should have run out, got {other:?}"
            )));
        }
    }

    // Bob raises her cap to (ε, δ) = (4, 1e-5) for Gaussian releases. The node's ledger
    // composes them by RDP as well as by adding up (ε, δ), so more fit than the sum allows.
    owner
        .set_budget(
            BudgetScope::user_on("eve", records.id()),
            Budget::new(4.0, 1e-5)?,
        )
        .await?;
    let mut gaussian_releases = 0;
    while dp_weight
        .get_dp(DpRelease::gaussian(0.5, 1e-6))
        .await
        .is_ok()
    {
        gaussian_releases += 1;
    }
    let line = eve_data.session().budget_status(None).await?.remove(0);
    println!(
        "8. with the cap raised to (ε, δ) = (4, 1e-5), eve made {gaussian_releases} Gaussian releases \
         of (0.5, 1e-6) before the next was refused; adding up (ε, δ) would have allowed 5 (half \
         the cap's δ each way), the ledger holds ε = {:.2} by RDP ({:.2} added up)",
        line.used().epsilon,
        line.spent.basic().epsilon
    );
    if gaussian_releases <= 5 {
        return Err(Error::InvalidInput(format!(
            "RDP accounting should allow more than 5 releases, got {gaussian_releases}"
        )));
    }

    // eve asks for raw access; bob approves; it takes effect at once.
    let filed = eve_data
        .session()
        .file_request(eve_data, RequestKind::RawAccess, "growth-chart study")
        .await?;
    let pending = owner.data_requests(true).await?;
    println!(
        "9. eve filed data request #{} ({:?}); bob sees {} pending",
        filed.id,
        filed.reason,
        pending.len()
    );
    let decided = owner
        .approve_request(filed.id, "approved by the ethics board")
        .await?;
    let eve_avg = (eve_data.column(0).sum().get().await? / 5.0).item()?;
    println!(
        "10. bob approved it ({:?}); eve's raw average weight is now {eve_avg:.3} kg",
        decided.note
    );
    hospital.shutdown().await;
    gateway.shutdown().await;
    Ok(([weight_avg, height_avg], direct))
}
