//! A trained booster's trees as flat arrays, walked here instead of by XGBoost.
//!
//! Tree walking was the largest single cost of scoring (stop 34's profile: XGBoost's walk and
//! the DMatrix it first copies the features into were a third to a half of score-ltv). This
//! walk reads the row-major features where they are, and takes [`LANES`] rows through a tree
//! side by side, so that the rows' node lookups overlap instead of waiting on each other.
//!
//! A prediction is XGBoost's own to the bit: the same base margin, the leaves added in f32 in
//! the trees' order, the same comparison (`value < threshold` goes left, a missing value goes
//! the node's default way) and the same link function (`expf`, and XGBoost's sigmoid). The
//! tests hold the two side by side.

use serde::Deserialize;

#[derive(Debug, thiserror::Error)]
pub enum ForestError {
    #[error("reading the booster's JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("the booster cannot be walked here: {0}")]
    Unsupported(String),
}

/// Rows taken through a tree together: enough independent lookups to keep the core busy
/// while each waits for its node.
const LANES: usize = 8;
/// Rows whose features stay in cache while every tree is walked over them.
const BLOCK_ROWS: usize = 256;

/// What a prediction's margin (the base margin plus one leaf of each tree) is turned into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Link {
    /// `reg:tweedie`: the margin is a log.
    Exp,
    /// `binary:logistic`: the margin is a log-odds.
    Sigmoid,
}

impl Link {
    fn of(objective: &str) -> Result<Self, ForestError> {
        match objective {
            "reg:tweedie" => Ok(Link::Exp),
            "binary:logistic" => Ok(Link::Sigmoid),
            other => Err(ForestError::Unsupported(format!("objective {other}"))),
        }
    }

    /// XGBoost's `ProbToMargin`: the margin of a base score.
    fn margin(self, base_score: f32) -> f32 {
        match self {
            Link::Exp => base_score.ln(),
            Link::Sigmoid => -(1.0 / base_score - 1.0).ln(),
        }
    }

    /// XGBoost's `PredTransform`.
    fn apply(self, margin: f32) -> f32 {
        match self {
            Link::Exp => margin.exp(),
            // As XGBoost's `common::Sigmoid`, clamp and epsilon included.
            Link::Sigmoid => 1.0 / ((-margin).min(88.7).exp() + 1.0 + 1e-16),
        }
    }
}

/// One node. A leaf's ways all lead back to itself, so walks of trees of any shape take the
/// tree's depth in steps and every lane moves in step. (A lane at a leaf still reads its
/// feature 0, which every row has: [`Forest::width`] is at least one.)
#[derive(Debug, Clone, Copy)]
struct Node {
    feature: u32,
    threshold: f32,
    left: u32,
    right: u32,
    missing: u32,
    /// The leaf's value; unused for a split.
    value: f32,
}

#[derive(Debug)]
struct Tree {
    nodes: Vec<Node>,
    /// Steps from the root to the deepest leaf.
    depth: usize,
}

impl Tree {
    /// Adds this tree's leaf for each row of `rows` (row-major, `width` features) to `sums`.
    fn add_leaves(&self, rows: &[f32], width: usize, sums: &mut [f32]) {
        let mut lanes_of_rows = rows.chunks_exact(LANES * width);
        let mut lanes_of_sums = sums.chunks_exact_mut(LANES);
        for (rows, sums) in (&mut lanes_of_rows).zip(&mut lanes_of_sums) {
            let rows: [&[f32]; LANES] = std::array::from_fn(|lane| &rows[lane * width..][..width]);
            let mut at = [0u32; LANES];
            for _ in 0..self.depth {
                for (node, row) in at.iter_mut().zip(rows) {
                    *node = self.next(*node, row);
                }
            }
            for (sum, node) in sums.iter_mut().zip(at) {
                *sum += self.nodes[node as usize].value;
            }
        }
        // The last rows, fewer than a lane's worth, one at a time.
        let rows = lanes_of_rows.remainder().chunks_exact(width);
        for (row, sum) in rows.zip(lanes_of_sums.into_remainder()) {
            let leaf = (0..self.depth).fold(0, |node, _| self.next(node, row));
            *sum += self.nodes[leaf as usize].value;
        }
    }

    /// The node after `node` for `row`.
    #[inline(always)]
    fn next(&self, node: u32, row: &[f32]) -> u32 {
        let split = &self.nodes[node as usize];
        let value = row[split.feature as usize];
        // Written as selects, not branches: which way a row goes is a coin toss to the
        // branch predictor.
        let compared = if value < split.threshold {
            split.left
        } else {
            split.right
        };
        if value.is_nan() {
            split.missing
        } else {
            compared
        }
    }
}

/// The trees of a `gbtree` booster with one output, ready to walk.
#[derive(Debug)]
pub struct Forest {
    base_margin: f32,
    link: Link,
    trees: Vec<Tree>,
    /// One more than the highest feature index any split reads: the least width of a row.
    width: usize,
}

impl Forest {
    /// The forest of a booster saved as XGBoost JSON (`Booster::save_to_buffer("json")`).
    pub fn from_json(json: &str) -> Result<Self, ForestError> {
        let saved: SavedModel = serde_json::from_str(json)?;
        let learner = saved.learner;
        let link = Link::of(&learner.objective.name)?;
        if learner.gradient_booster.name != "gbtree" {
            return Err(ForestError::Unsupported(format!(
                "booster {}",
                learner.gradient_booster.name
            )));
        }
        let base_score: f32 = learner
            .learner_model_param
            .base_score
            .parse()
            .map_err(|_| {
                ForestError::Unsupported(format!(
                    "base score {:?}",
                    learner.learner_model_param.base_score
                ))
            })?;
        let model = learner.gradient_booster.model;
        if model.tree_info.iter().any(|group| *group != 0) {
            return Err(ForestError::Unsupported("more than one output".into()));
        }
        let trees = model
            .trees
            .iter()
            .enumerate()
            .map(|(index, tree)| {
                tree.flatten()
                    .map_err(|why| ForestError::Unsupported(format!("tree {index}: {why}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let width = trees
            .iter()
            .flat_map(|tree| &tree.nodes)
            .map(|node| node.feature as usize + 1)
            .max()
            .unwrap_or(1);
        Ok(Forest {
            base_margin: link.margin(base_score),
            link,
            trees,
            width,
        })
    }

    /// The least number of features a row must have.
    pub fn width(&self) -> usize {
        self.width
    }

    /// A prediction for each row of `values` (row-major, `width` features each, NaN where a
    /// value is missing), on `threads` threads.
    ///
    /// Panics unless `width` is at least [`Forest::width`] and divides the values into rows:
    /// the caller checks the shape of what it is given.
    pub fn predict(&self, values: &[f32], width: usize, threads: u32) -> Vec<f32> {
        assert!(
            width >= self.width && values.len().is_multiple_of(width),
            "{} values in rows of {width} features for a forest reading {}",
            values.len(),
            self.width
        );
        let rows = values.len() / width;
        let mut predictions = vec![self.base_margin; rows];
        let per_thread = rows.div_ceil(threads.max(1) as usize).max(1);
        if per_thread == rows {
            // One thread's share: walked on this thread rather than on one started for it.
            self.add_trees(values, width, &mut predictions);
        } else {
            std::thread::scope(|scope| {
                for (rows, sums) in values
                    .chunks(per_thread * width)
                    .zip(predictions.chunks_mut(per_thread))
                {
                    scope.spawn(move || self.add_trees(rows, width, sums));
                }
            });
        }
        predictions
            .iter_mut()
            .for_each(|margin| *margin = self.link.apply(*margin));
        predictions
    }

    /// Adds every tree's leaf to each row's margin, in the trees' order, a block of rows at a
    /// time.
    fn add_trees(&self, rows: &[f32], width: usize, sums: &mut [f32]) {
        for (block_rows, block_sums) in rows
            .chunks(BLOCK_ROWS * width)
            .zip(sums.chunks_mut(BLOCK_ROWS))
        {
            for tree in &self.trees {
                tree.add_leaves(block_rows, width, block_sums);
            }
        }
    }
}

/// The parts of XGBoost's JSON model a walk needs (serde skips the rest).
#[derive(Deserialize)]
struct SavedModel {
    learner: SavedLearner,
}

#[derive(Deserialize)]
struct SavedLearner {
    learner_model_param: SavedModelParam,
    gradient_booster: SavedBooster,
    objective: SavedObjective,
}

#[derive(Deserialize)]
struct SavedModelParam {
    base_score: String,
}

#[derive(Deserialize)]
struct SavedObjective {
    name: String,
}

#[derive(Deserialize)]
struct SavedBooster {
    name: String,
    model: SavedTrees,
}

#[derive(Deserialize)]
struct SavedTrees {
    trees: Vec<SavedTree>,
    tree_info: Vec<i64>,
}

#[derive(Deserialize)]
struct SavedTree {
    left_children: Vec<i64>,
    right_children: Vec<i64>,
    split_indices: Vec<i64>,
    /// A split's threshold; a leaf's value.
    split_conditions: Vec<f32>,
    default_left: Vec<u8>,
    #[serde(default)]
    split_type: Vec<u8>,
}

impl SavedTree {
    fn flatten(&self) -> Result<Tree, String> {
        let count = self.left_children.len();
        if count == 0 {
            return Err("no nodes".into());
        }
        let lengths = [
            self.right_children.len(),
            self.split_indices.len(),
            self.split_conditions.len(),
            self.default_left.len(),
        ];
        if lengths.iter().any(|length| *length != count) {
            return Err(format!("arrays of {count} and {lengths:?} nodes"));
        }
        if self.split_type.iter().any(|kind| *kind != 0) {
            return Err("a categorical split".into());
        }
        let node = |child: i64| -> Result<u32, String> {
            usize::try_from(child)
                .ok()
                .filter(|child| *child < count)
                .map(|child| child as u32)
                .ok_or_else(|| format!("child {child} of {count} nodes"))
        };
        let nodes = (0..count)
            .map(|index| {
                let condition = self.split_conditions[index];
                if self.left_children[index] < 0 {
                    let itself = index as u32;
                    return Ok(Node {
                        feature: 0,
                        threshold: 0.0,
                        left: itself,
                        right: itself,
                        missing: itself,
                        value: condition,
                    });
                }
                let (left, right) = (
                    node(self.left_children[index])?,
                    node(self.right_children[index])?,
                );
                let feature = u32::try_from(self.split_indices[index])
                    .map_err(|_| format!("feature {}", self.split_indices[index]))?;
                Ok(Node {
                    feature,
                    threshold: condition,
                    left,
                    right,
                    missing: if self.default_left[index] != 0 {
                        left
                    } else {
                        right
                    },
                    value: 0.0,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        let depth = depth(&nodes)?;
        Ok(Tree { nodes, depth })
    }
}

/// Steps from the root to the deepest leaf; an error for a cycle, which no tree has.
fn depth(nodes: &[Node]) -> Result<usize, String> {
    let mut deepest = 0;
    let mut pending = vec![(0u32, 0usize)];
    while let Some((index, steps)) = pending.pop() {
        if steps > nodes.len() {
            return Err("a cycle among the nodes".into());
        }
        let node = &nodes[index as usize];
        if node.left == index {
            deepest = deepest.max(steps);
        } else {
            pending.push((node.left, steps + 1));
            pending.push((node.right, steps + 1));
        }
    }
    Ok(deepest)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stump on feature 1 at 0.5 (missing goes right), and a tree of depth 2 whose left
    /// branch splits feature 0 at 2 (missing goes left) and whose right branch is a leaf.
    fn saved(objective: &str, base_score: &str) -> String {
        serde_json::json!({
            "learner": {
                "learner_model_param": {"base_score": base_score, "num_class": "0"},
                "objective": {"name": objective},
                "gradient_booster": {
                    "name": "gbtree",
                    "model": {
                        "tree_info": [0, 0],
                        "trees": [
                            {
                                "left_children": [1, -1, -1],
                                "right_children": [2, -1, -1],
                                "split_indices": [1, 0, 0],
                                "split_conditions": [0.5, -1.0, 1.0],
                                "default_left": [0, 0, 0],
                                "split_type": [0, 0, 0]
                            },
                            {
                                "left_children": [1, 3, -1, -1, -1],
                                "right_children": [2, 4, -1, -1, -1],
                                "split_indices": [1, 0, 0, 0, 0],
                                "split_conditions": [0.25, 2.0, 0.5, 0.125, 0.0625],
                                "default_left": [1, 1, 0, 0, 0],
                                "split_type": [0, 0, 0, 0, 0]
                            }
                        ]
                    }
                }
            }
        })
        .to_string()
    }

    #[test]
    fn a_row_takes_the_way_of_its_values_and_a_missing_value_the_default_way() {
        let forest = Forest::from_json(&saved("reg:tweedie", "5E-1")).unwrap();
        assert_eq!(forest.width(), 2);
        let rows = [
            // Left in both trees, then left of 2 in the second: -1 + 0.125.
            1.0,
            0.0,
            // Left in both, then right of 2: -1 + 0.0625.
            3.0,
            0.0,
            // Right in the first, the right leaf of the second: 1 + 0.5.
            0.0,
            0.9,
            // Feature 1 missing: right in the first, left (default) in the second, and feature 0
            // missing there goes left too: 1 + 0.125.
            f32::NAN,
            f32::NAN,
        ];
        // The leaves reached, added to the base margin one after the other as XGBoost does.
        let leaves = [
            (-1.0f32, 0.125f32),
            (-1.0, 0.0625),
            (1.0, 0.5),
            (1.0, 0.125),
        ];
        let expected: Vec<f32> = leaves
            .iter()
            .map(|(first, second)| (0.5f32.ln() + first + second).exp())
            .collect();
        for threads in [1, 3] {
            assert_eq!(forest.predict(&rows, 2, threads), expected);
        }
    }

    #[test]
    fn a_logistic_forest_turns_its_margin_into_a_probability_from_its_base_log_odds() {
        let forest = Forest::from_json(&saved("binary:logistic", "2.5E-1")).unwrap();
        let predicted = forest.predict(&[0.0, 0.9], 2, 1);
        let margin = -(1.0f32 / 0.25 - 1.0).ln() + 1.0 + 0.5;
        assert_eq!(predicted, [1.0 / (1.0 + (-margin).exp())]);
    }

    #[test]
    fn what_it_cannot_walk_is_refused() {
        let unsupported = |json: String| match Forest::from_json(&json) {
            Err(ForestError::Unsupported(why)) => why,
            other => panic!("walked: {other:?}"),
        };
        assert!(unsupported(saved("reg:squarederror", "5E-1")).contains("objective"));
        let categorical = saved("reg:tweedie", "5E-1").replacen(
            "\"split_type\":[0,0,0]",
            "\"split_type\":[1,0,0]",
            1,
        );
        assert!(unsupported(categorical).contains("categorical"));
        let dangling = saved("reg:tweedie", "5E-1").replacen(
            "\"right_children\":[2,-1,-1]",
            "\"right_children\":[7,-1,-1]",
            1,
        );
        assert!(unsupported(dangling).contains("child 7"));
    }
}
