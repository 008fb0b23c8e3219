//! A trained booster's trees as flat arrays, walked here instead of by XGBoost.
//!
//! Tree walking was the largest single cost of scoring (stop 34's profile: XGBoost's walk and
//! the DMatrix it first copies the features into were a third to a half of score-ltv). This
//! walk reads the row-major features where they are, and takes [`LANES`] rows through a tree
//! side by side, so that the rows' node lookups overlap instead of waiting on each other.
//! Where the CPU has AVX-512 and every tree is at most [`TABLE_DEPTH`] deep (train-ltv's are
//! 5), sixteen rows go through a tree in one register instead ([`avx512`]): a tree is then
//! small enough that its nodes are looked up in registers, and only each row's value is read
//! from memory.
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
    /// The trees as [`TreeTables`], if every one is shallow enough.
    tables: Option<Vec<TreeTables>>,
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
        let tables = trees.iter().map(TreeTables::of).collect();
        Ok(Forest {
            base_margin: link.margin(base_score),
            link,
            trees,
            tables,
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
        self.predict_by(Walk::fastest(self), values, width, threads)
    }

    /// [`Forest::predict`], walked by `walk`.
    fn predict_by(&self, walk: Walk, values: &[f32], width: usize, threads: u32) -> Vec<f32> {
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
            self.add_trees(walk, values, width, &mut predictions);
        } else {
            std::thread::scope(|scope| {
                for (rows, sums) in values
                    .chunks(per_thread * width)
                    .zip(predictions.chunks_mut(per_thread))
                {
                    scope.spawn(move || self.add_trees(walk, rows, width, sums));
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
    fn add_trees(&self, walk: Walk, rows: &[f32], width: usize, sums: &mut [f32]) {
        for (block_rows, block_sums) in rows
            .chunks(BLOCK_ROWS * width)
            .zip(sums.chunks_mut(BLOCK_ROWS))
        {
            let walked = match (walk, &self.tables) {
                #[cfg(target_arch = "x86_64")]
                (Walk::Avx512, Some(tables)) => {
                    let walked = block_sums.len() / avx512::LANES * avx512::LANES;
                    // SAFETY: `Walk::Avx512` is chosen only where the CPU has AVX-512F;
                    // `walked` rows of `width` values are in `block_rows`, and `predict`
                    // checked that `width` covers every feature a tree reads.
                    unsafe {
                        avx512::add_leaves(
                            tables,
                            &block_rows[..walked * width],
                            width,
                            &mut block_sums[..walked],
                        );
                    }
                    walked
                }
                _ => 0,
            };
            // The rest, fewer than a register's worth, or all of them.
            let (block_rows, block_sums) =
                (&block_rows[walked * width..], &mut block_sums[walked..]);
            for tree in &self.trees {
                tree.add_leaves(block_rows, width, block_sums);
            }
        }
    }
}

/// How a forest's trees are walked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Walk {
    /// [`Tree::add_leaves`]: any CPU, any tree.
    Lanes,
    /// [`avx512::add_leaves`], where the CPU has it and the forest has [`TreeTables`].
    #[cfg(target_arch = "x86_64")]
    Avx512,
}

impl Walk {
    #[cfg_attr(not(target_arch = "x86_64"), allow(unused_variables))]
    fn fastest(forest: &Forest) -> Walk {
        #[cfg(target_arch = "x86_64")]
        if forest.tables.is_some() && std::arch::is_x86_feature_detected!("avx512f") {
            return Walk::Avx512;
        }
        Walk::Lanes
    }
}

/// How deep a tree may be to be walked from [`TreeTables`]: a tree five splits deep has at
/// most 31 splits and 32 leaves, each table two registers of sixteen.
const TABLE_DEPTH: usize = 5;
const TABLE_SIZE: usize = 1 << TABLE_DEPTH;

/// A tree of at most [`TABLE_DEPTH`] levels as a full binary tree in tables: the children of
/// split `i` are `2i + 1` and `2i + 2`, and after `depth` steps a row is at leaf
/// `node - (2^depth - 1)`. A leaf above the last level is copied to every place below it, its
/// splits reading feature 0 either way.
#[derive(Debug, Clone)]
struct TreeTables {
    depth: u32,
    /// Per split, the feature it reads.
    features: [u32; TABLE_SIZE],
    thresholds: [f32; TABLE_SIZE],
    /// A bit per split: set where a missing value goes right.
    missing_right: u32,
    leaves: [f32; TABLE_SIZE],
}

impl TreeTables {
    /// `None` for a tree deeper than [`TABLE_DEPTH`].
    fn of(tree: &Tree) -> Option<Self> {
        if tree.depth > TABLE_DEPTH {
            return None;
        }
        let mut tables = TreeTables {
            depth: tree.depth as u32,
            features: [0; TABLE_SIZE],
            thresholds: [0.0; TABLE_SIZE],
            missing_right: 0,
            leaves: [0.0; TABLE_SIZE],
        };
        let first_leaf = (1 << tree.depth) - 1;
        // (the tree's node, its place in the full tree)
        let mut pending = vec![(0u32, 0usize)];
        while let Some((index, place)) = pending.pop() {
            let node = &tree.nodes[index as usize];
            if place >= first_leaf {
                // `depth` steps reach only leaves: the last level holds them.
                tables.leaves[place - first_leaf] = node.value;
                continue;
            }
            if node.left != index {
                tables.features[place] = node.feature;
                tables.thresholds[place] = node.threshold;
                if node.missing == node.right {
                    tables.missing_right |= 1 << place;
                }
            }
            // A leaf's ways lead back to itself: both halves below it are the leaf.
            pending.push((node.left, 2 * place + 1));
            pending.push((node.right, 2 * place + 2));
        }
        Some(tables)
    }
}

/// Sixteen rows through a tree at once, in AVX-512 registers.
#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::*;

    use super::TreeTables;

    /// Rows walked together: one register of 32-bit lanes.
    pub const LANES: usize = 16;

    /// Adds each tree's leaf for each row of `rows` (row-major, `width` values each) to
    /// `sums`, tree by tree in order, as [`super::Tree::add_leaves`] does.
    ///
    /// # Safety
    /// The CPU has AVX-512F; `sums.len()` is a multiple of [`LANES`]; `rows` holds
    /// `sums.len()` rows of `width` values; and every feature of every table is below `width`.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn add_leaves(tables: &[TreeTables], rows: &[f32], width: usize, sums: &mut [f32]) {
        let lane_starts = _mm512_mullo_epi32(
            _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
            _mm512_set1_epi32(width as i32),
        );
        let one = _mm512_set1_epi32(1);
        for tree in tables {
            // SAFETY: each table is TABLE_SIZE (32) values, two registers' worth.
            let (features, thresholds, leaves) = unsafe {
                (
                    halves_i32(&tree.features),
                    halves_f32(&tree.thresholds),
                    halves_f32(&tree.leaves),
                )
            };
            let missing_right = _mm512_set1_epi32(tree.missing_right as i32);
            let first_leaf = _mm512_set1_epi32((1 << tree.depth) - 1);
            for (group, sums) in sums.chunks_exact_mut(LANES).enumerate() {
                let first = rows[group * LANES * width..].as_ptr();
                let mut node = _mm512_setzero_si512();
                for _ in 0..tree.depth {
                    let feature = _mm512_permutex2var_epi32(features.0, node, features.1);
                    let threshold = _mm512_permutex2var_ps(thresholds.0, node, thresholds.1);
                    // SAFETY: lane k reads value `feature` of row k of this group: the
                    // caller's rows hold LANES rows of `width` values here, and every feature
                    // is below `width`.
                    let value = unsafe {
                        _mm512_i32gather_ps::<4>(_mm512_add_epi32(lane_starts, feature), first)
                    };
                    // As Tree::next: `value < threshold` goes left, a missing value the
                    // split's default way.
                    let left = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(value, threshold);
                    let missing = _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(value, value);
                    let default_right =
                        _mm512_test_epi32_mask(_mm512_srlv_epi32(missing_right, node), one);
                    let right = (!left & !missing) | (missing & default_right);
                    let first_child = _mm512_add_epi32(_mm512_add_epi32(node, node), one);
                    node = _mm512_mask_add_epi32(first_child, right, first_child, one);
                }
                let leaf = _mm512_sub_epi32(node, first_leaf);
                let value = _mm512_permutex2var_ps(leaves.0, leaf, leaves.1);
                // SAFETY: `sums` is LANES values.
                unsafe {
                    let sum = _mm512_add_ps(_mm512_loadu_ps(sums.as_ptr()), value);
                    _mm512_storeu_ps(sums.as_mut_ptr(), sum);
                }
            }
        }
    }

    /// # Safety
    /// The CPU has AVX-512F.
    #[target_feature(enable = "avx512f")]
    unsafe fn halves_i32(table: &[u32; super::TABLE_SIZE]) -> (__m512i, __m512i) {
        // SAFETY: 32 values, read as two registers of 16.
        unsafe {
            (
                _mm512_loadu_si512(table.as_ptr().cast()),
                _mm512_loadu_si512(table[LANES..].as_ptr().cast()),
            )
        }
    }

    /// # Safety
    /// The CPU has AVX-512F.
    #[target_feature(enable = "avx512f")]
    unsafe fn halves_f32(table: &[f32; super::TABLE_SIZE]) -> (__m512, __m512) {
        // SAFETY: 32 values, read as two registers of 16.
        unsafe {
            (
                _mm512_loadu_ps(table.as_ptr()),
                _mm512_loadu_ps(table[LANES..].as_ptr()),
            )
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

    /// The arrays of a saved tree, grown node by node.
    #[derive(Default)]
    struct Grown {
        left: Vec<i64>,
        right: Vec<i64>,
        features: Vec<i64>,
        conditions: Vec<f32>,
        default_left: Vec<u8>,
    }

    impl Grown {
        /// A node at `level` and, if it splits, its subtrees; its index. Some branches stop
        /// early; thresholds are values the rows also take, so ties (which go right) happen.
        fn grow(
            &mut self,
            rng: &mut impl rand::RngExt,
            level: usize,
            max_depth: usize,
            width: usize,
        ) -> i64 {
            let index = self.left.len();
            self.left.push(-1);
            self.right.push(-1);
            self.features.push(rng.random_range(0..width as i64));
            self.conditions.push(rng.random_range(-1.0f32..1.0));
            self.default_left.push(u8::from(rng.random_bool(0.5)));
            if level < max_depth && (level == 0 || rng.random_bool(0.8)) {
                self.conditions[index] = f32::from(rng.random_range(0u8..4)) * 0.5;
                self.left[index] = self.grow(rng, level + 1, max_depth, width);
                self.right[index] = self.grow(rng, level + 1, max_depth, width);
            }
            index as i64
        }
    }

    /// A forest of `trees` random trees of at most `max_depth` levels over `width` features.
    fn random_forest(seed: u64, trees: usize, max_depth: usize, width: usize) -> String {
        use rand::SeedableRng;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let saved: Vec<serde_json::Value> = (0..trees)
            .map(|tree| {
                let mut grown = Grown::default();
                // Every depth up to the deepest, a lone leaf included.
                grown.grow(&mut rng, 0, max_depth.min(tree), width);
                serde_json::json!({
                    "left_children": grown.left,
                    "right_children": grown.right,
                    "split_indices": grown.features,
                    "split_conditions": grown.conditions,
                    "default_left": grown.default_left,
                    "split_type": vec![0; grown.left.len()],
                })
            })
            .collect();
        serde_json::json!({
            "learner": {
                "learner_model_param": {"base_score": "5E-1", "num_class": "0"},
                "objective": {"name": "reg:tweedie"},
                "gradient_booster": {
                    "name": "gbtree",
                    "model": {"tree_info": vec![0; trees], "trees": saved}
                }
            }
        })
        .to_string()
    }

    /// Rows of `width` values among the thresholds' own, others, and missing ones.
    fn random_rows(seed: u64, rows: usize, width: usize) -> Vec<f32> {
        use rand::{RngExt, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        (0..rows * width)
            .map(|_| match rng.random_range(0..6) {
                0 => f32::NAN,
                1 => rng.random_range(-1.0f32..3.0),
                _ => f32::from(rng.random_range(0u8..4)) * 0.5,
            })
            .collect()
    }

    #[test]
    fn sixteen_rows_in_a_register_take_the_ways_one_row_takes() {
        #[cfg(target_arch = "x86_64")]
        {
            if !std::arch::is_x86_feature_detected!("avx512f") {
                eprintln!("this CPU has no AVX-512: only the lanes' walk can run here");
                return;
            }
            let width = 5;
            let forest = Forest::from_json(&random_forest(3, 40, TABLE_DEPTH, width)).unwrap();
            assert_eq!(Walk::fastest(&forest), Walk::Avx512);
            // Blocks of 256 rows and a last one that is not whole registers.
            let rows = random_rows(4, 2 * BLOCK_ROWS + 37, width);
            for threads in [1, 2] {
                let by_lanes = forest.predict_by(Walk::Lanes, &rows, width, threads);
                let in_registers = forest.predict_by(Walk::Avx512, &rows, width, threads);
                assert_eq!(
                    by_lanes.iter().map(|p| p.to_bits()).collect::<Vec<_>>(),
                    in_registers.iter().map(|p| p.to_bits()).collect::<Vec<_>>()
                );
            }
        }
    }

    #[test]
    fn a_forest_too_deep_for_tables_is_walked_by_lanes() {
        let width = 4;
        let forest = Forest::from_json(&random_forest(5, 12, TABLE_DEPTH + 2, width)).unwrap();
        assert!(forest.tables.is_none());
        assert_eq!(Walk::fastest(&forest), Walk::Lanes);
        let rows = random_rows(6, 100, width);
        assert_eq!(forest.predict(&rows, width, 2).len(), 100);
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
