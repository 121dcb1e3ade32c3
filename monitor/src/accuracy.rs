//! Live accuracy: the last `window` predictions whose ground truth has been posted.

use serde::Serialize;

use crate::window::Ring;

/// Probabilities are clipped to `[LOG_LOSS_CLIP, 1 − LOG_LOSS_CLIP]` for log loss, as
/// scikit-learn does.
pub const LOG_LOSS_CLIP: f64 = 1e-15;

#[derive(Clone, Copy, Debug)]
enum Row {
    Classified { predicted: bool, probability: Option<f64>, truth: bool },
    Regressed { predicted: f64, truth: f64 },
}

/// A ring buffer of the last `window` labelled rows.
///
/// Normally one kind of row is added (classified or regressed); if both are, the classifier
/// metrics cover the classified rows and the regressor metrics the regressed ones, and both
/// share the window.
#[derive(Clone, Debug)]
pub struct AccuracyWindow {
    rows: Ring<Row>,
}

/// Metrics over the current window; `None` where a metric does not apply (a regressor's
/// precision) or is undefined (precision with no predicted positive).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AccuracyReport {
    /// Rows in the window.
    pub labelled: usize,
    /// Share of classified rows predicted right.
    pub accuracy: Option<f64>,
    /// `tp / (tp + fp)`; `None` without a predicted positive.
    pub precision: Option<f64>,
    /// `tp / (tp + fn)`; `None` without an actual positive.
    pub recall: Option<f64>,
    /// `2tp / (2tp + fp + fn)` (the harmonic mean of precision and recall where both are
    /// defined, 0 when one is 0 or undefined but there are positives); `None` when there is
    /// neither a predicted nor an actual positive.
    pub f1: Option<f64>,
    /// Mean of `−(y·ln p + (1−y)·ln(1−p))` over classified rows that carry a probability,
    /// `p` clipped to `[1e-15, 1 − 1e-15]`; `None` when no row carries one.
    pub log_loss: Option<f64>,
    /// Mean absolute error over regressed rows.
    pub mae: Option<f64>,
    /// Root mean squared error over regressed rows.
    pub rmse: Option<f64>,
}

impl AccuracyWindow {
    /// An empty window of `window` rows (0: nothing is ever kept).
    pub fn new(window: usize) -> AccuracyWindow {
        AccuracyWindow { rows: Ring::new(window) }
    }

    /// A classifier's prediction and its ground truth. `probability` is P(true); a NaN
    /// probability is recorded as absent.
    pub fn add_classified(&mut self, predicted: bool, probability: Option<f64>, truth: bool) {
        let probability = probability.filter(|p| !p.is_nan());
        self.rows.push(Row::Classified { predicted, probability, truth });
    }

    /// A regressor's prediction and its ground truth. A row where either is not finite is
    /// ignored (not recorded).
    pub fn add_regressed(&mut self, predicted: f64, truth: f64) {
        if predicted.is_finite() && truth.is_finite() {
            self.rows.push(Row::Regressed { predicted, truth });
        }
    }

    /// The metrics over the current window. O(window).
    pub fn report(&self) -> AccuracyReport {
        let (mut tp, mut fp, mut fneg, mut tn) = (0usize, 0usize, 0usize, 0usize);
        let (mut loss_sum, mut loss_rows) = (0.0f64, 0usize);
        let (mut abs_sum, mut sq_sum, mut regressed) = (0.0f64, 0.0f64, 0usize);
        for row in self.rows.iter() {
            match *row {
                Row::Classified { predicted, probability, truth } => {
                    match (predicted, truth) {
                        (true, true) => tp += 1,
                        (true, false) => fp += 1,
                        (false, true) => fneg += 1,
                        (false, false) => tn += 1,
                    }
                    if let Some(p) = probability {
                        let p = p.clamp(LOG_LOSS_CLIP, 1.0 - LOG_LOSS_CLIP);
                        loss_sum -= if truth { p.ln() } else { (1.0 - p).ln() };
                        loss_rows += 1;
                    }
                }
                Row::Regressed { predicted, truth } => {
                    let error = predicted - truth;
                    abs_sum += error.abs();
                    sq_sum += error * error;
                    regressed += 1;
                }
            }
        }
        let ratio = |num: usize, den: usize| (den > 0).then(|| num as f64 / den as f64);
        let classified = tp + fp + fneg + tn;
        AccuracyReport {
            labelled: self.rows.len(),
            accuracy: ratio(tp + tn, classified),
            precision: ratio(tp, tp + fp),
            recall: ratio(tp, tp + fneg),
            f1: ratio(2 * tp, 2 * tp + fp + fneg),
            log_loss: (loss_rows > 0).then(|| loss_sum / loss_rows as f64),
            mae: (regressed > 0).then(|| abs_sum / regressed as f64),
            rmse: (regressed > 0).then(|| (sq_sum / regressed as f64).sqrt()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: Option<f64>, b: f64, tol: f64) -> bool {
        a.is_some_and(|a| (a - b).abs() <= tol)
    }

    #[test]
    fn classifier_metrics_by_hand() {
        let mut w = AccuracyWindow::new(100);
        // (predicted, P(true), truth)
        w.add_classified(true, Some(0.9), true); // TP, loss −ln 0.9
        w.add_classified(true, Some(0.6), false); // FP, loss −ln 0.4
        w.add_classified(false, Some(0.2), false); // TN, loss −ln 0.8
        w.add_classified(false, Some(0.4), true); // FN, loss −ln 0.4
        w.add_classified(true, Some(0.8), true); // TP, loss −ln 0.8
        w.add_classified(false, Some(0.3), true); // FN, loss −ln 0.3
        let r = w.report();
        // tp 2, fp 1, fn 2, tn 1
        assert_eq!(r.labelled, 6);
        assert!(close(r.accuracy, 3.0 / 6.0, 1e-15)); // (2 + 1) / 6
        assert!(close(r.precision, 2.0 / 3.0, 1e-15)); // 2 / (2 + 1)
        assert!(close(r.recall, 0.5, 1e-15)); // 2 / (2 + 2)
        // 2·(2/3)·(1/2) / (2/3 + 1/2) = (2/3) / (7/6) = 4/7 = 2·2 / (2·2 + 1 + 2)
        assert!(close(r.f1, 4.0 / 7.0, 1e-15));
        // −(ln .9 + ln .4 + ln .8 + ln .4 + ln .8 + ln .3) / 6
        // = (0.1053605 + 0.9162907 + 0.2231436 + 0.9162907 + 0.2231436 + 1.2039728) / 6
        // = 3.5882019 / 6 = 0.5980336477267486
        assert!(close(r.log_loss, 0.598_033_647_726_748_6, 1e-12), "{:?}", r.log_loss);
        assert_eq!((r.mae, r.rmse), (None, None));
    }

    #[test]
    fn log_loss_clips_like_scikit_learn() {
        let mut w = AccuracyWindow::new(10);
        // P(true) = 1 but truth false: −ln(1 − (1 − 1e-15)) ≈ −ln(1e-15) = 34.54
        w.add_classified(true, Some(1.0), false);
        assert!(close(w.report().log_loss, -(1e-15f64).ln(), 1e-2));
        // P(true) = 0 and truth false: −ln(1 − 1e-15) ≈ 1e-15
        let mut w = AccuracyWindow::new(10);
        w.add_classified(false, Some(0.0), false);
        assert!(close(w.report().log_loss, 0.0, 1e-14));
        // no probabilities, or NaN: no log loss
        let mut w = AccuracyWindow::new(10);
        w.add_classified(true, None, true);
        w.add_classified(true, Some(f64::NAN), true);
        let r = w.report();
        assert_eq!(r.log_loss, None);
        assert_eq!(r.labelled, 2);
    }

    #[test]
    fn regressor_metrics_by_hand() {
        let mut w = AccuracyWindow::new(10);
        // errors 1, 0, 2: MAE = 3/3 = 1, RMSE = √((1 + 0 + 4)/3) = √(5/3) = 1.2909944487358056
        w.add_regressed(2.0, 3.0);
        w.add_regressed(5.0, 5.0);
        w.add_regressed(1.0, -1.0);
        w.add_regressed(f64::NAN, 1.0); // ignored
        let r = w.report();
        assert_eq!(r.labelled, 3);
        assert!(close(r.mae, 1.0, 1e-15));
        assert!(close(r.rmse, 1.290_994_448_735_805_6, 1e-15));
        assert_eq!((r.accuracy, r.precision, r.recall, r.f1, r.log_loss), (None, None, None, None, None));
    }

    #[test]
    fn accuracy_window_evicts_and_reports_none_when_undefined() {
        let empty = AccuracyWindow::new(5).report();
        assert_eq!(
            empty,
            AccuracyReport {
                labelled: 0,
                accuracy: None,
                precision: None,
                recall: None,
                f1: None,
                log_loss: None,
                mae: None,
                rmse: None
            }
        );
        let mut w = AccuracyWindow::new(2);
        w.add_classified(true, None, true); // TP, evicted below
        w.add_classified(true, None, false); // FP
        w.add_classified(false, None, false); // TN
        let r = w.report();
        assert_eq!(r.labelled, 2);
        assert_eq!(r.accuracy, Some(0.5));
        assert_eq!(r.precision, Some(0.0)); // 0 / (0 + 1)
        assert_eq!(r.recall, None); // no actual positive left
        assert_eq!(r.f1, Some(0.0)); // 0 / (0 + 1 + 0)
        // only true negatives: precision, recall, F1 undefined
        let mut w = AccuracyWindow::new(3);
        for _ in 0..5 {
            w.add_classified(false, Some(0.1), false);
        }
        let r = w.report();
        assert_eq!(r.labelled, 3);
        assert_eq!((r.accuracy, r.precision, r.recall, r.f1), (Some(1.0), None, None, None));
        // regression window eviction: (0, 10) falls out, leaving errors 1 and 1
        let mut w = AccuracyWindow::new(2);
        w.add_regressed(0.0, 10.0);
        w.add_regressed(1.0, 2.0);
        w.add_regressed(3.0, 2.0);
        let r = w.report();
        assert_eq!((r.mae, r.rmse), (Some(1.0), Some(1.0)));
        // window 0 keeps nothing
        let mut w = AccuracyWindow::new(0);
        w.add_regressed(1.0, 2.0);
        assert_eq!(w.report().labelled, 0);
    }
}
