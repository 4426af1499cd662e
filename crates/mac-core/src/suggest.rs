//! "Did you mean …?": the closest of a few known names to a misspelt one, for error messages
//! about unknown kinds, references, types and names.

/// The candidate closest to `word` by edit distance (insertions, deletions, substitutions and
/// swaps of neighbours, ignoring case), if one is close enough to be a plausible typo: at most
/// a third of the word's length, and at least one edit for words of three letters or more.
/// Ties go to the first candidate in order, so the suggestion is deterministic.
pub fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let word_lower = word.to_lowercase();
    // A one- or two-letter name is one edit from every other: only its case can be wrong.
    let length = word.chars().count();
    let limit = if length < 3 { 0 } else { (length / 3).max(1) };
    let mut best: Option<(usize, &str)> = None;
    for candidate in candidates {
        if candidate == word {
            continue;
        }
        let distance = edit_distance(&word_lower, &candidate.to_lowercase());
        if distance <= limit && best.is_none_or(|(best_distance, _)| distance < best_distance) {
            best = Some((distance, candidate));
        }
    }
    best.map(|(_, candidate)| candidate)
}

/// `"; did you mean `x`?"` for [`did_you_mean`]'s answer, or nothing.
pub fn hint<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    did_you_mean(word, candidates).map(|found| format!("; did you mean `{found}`?")).unwrap_or_default()
}

/// The optimal string alignment distance: Levenshtein's, with a swap of two neighbouring
/// characters counted as one edit (`alert_gruop` is one edit from `alert_group`).
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // Three rows: two back (for swaps), the previous, the current.
    let mut before: Vec<usize> = vec![0; b.len() + 1];
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for i in 1..=a.len() {
        let mut current = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            current[j] = (previous[j] + 1).min(current[j - 1] + 1).min(previous[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                current[j] = current[j].min(before[j - 2] + 1);
            }
        }
        before = std::mem::replace(&mut previous, current);
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances_count_swaps_as_one_edit() {
        assert_eq!(edit_distance("alert_gruop", "alert_group"), 1);
        assert_eq!(edit_distance("paymnets", "payments"), 1);
        assert_eq!(edit_distance("slak", "slack"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn suggests_only_plausible_typos() {
        let kinds = ["folder", "alert_group", "dashboard"];
        assert_eq!(did_you_mean("alert_gruop", kinds), Some("alert_group"));
        assert_eq!(did_you_mean("Folder", kinds), Some("folder"));
        assert_eq!(did_you_mean("silence", kinds), None);
        assert_eq!(did_you_mean("promm", ["prom", "prometheus"]), Some("prom"));
        assert_eq!(hint("slak", ["slack", "email"]), "; did you mean `slack`?");
        assert_eq!(hint("zzz", ["slack"]), "");
        assert_eq!(did_you_mean("C", ["A", "B"]), None);
        assert_eq!(did_you_mean("a", ["A", "B"]), Some("A"));
    }
}
