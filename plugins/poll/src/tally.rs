//! A poll and its votes: parsing what the user typed, voting, and the text bar chart.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub const MAX_CHOICES: usize = 10;
pub const MAX_QUESTION: usize = 200;
pub const MAX_CHOICE: usize = 60;
/// Width of a full bar, in block characters.
const BAR: usize = 20;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Poll {
    pub question: String,
    pub choices: Vec<String>,
    /// User id -> index of the choice voted for (one vote per user).
    pub votes: BTreeMap<u64, usize>,
    pub author: u64,
    pub open: bool,
}

impl Poll {
    /// A poll from the `question` and `choices` options. The prefix form splits the
    /// line at the first space, so a question ending with `?` inside `choices`' first
    /// `|` part is joined back onto the question.
    pub fn from_input(question: &str, choices: &str, author: u64) -> Result<Poll, String> {
        let mut question = question.trim().to_string();
        let separator = if choices.contains('|') { '|' } else { ',' };
        let mut parts: Vec<String> = choices
            .split(separator)
            .map(|c| c.trim().to_string())
            .collect();
        if separator == '|' && parts.first().is_some_and(|p| p.ends_with('?')) {
            let rest = parts.remove(0);
            question = format!("{question} {rest}");
        }
        parts.retain(|c| !c.is_empty());
        let mut unique: Vec<String> = Vec::new();
        for part in parts {
            if !unique.iter().any(|u| u.eq_ignore_ascii_case(&part)) {
                unique.push(part);
            }
        }
        if question.is_empty() {
            return Err("A poll needs a question.".into());
        }
        if question.chars().count() > MAX_QUESTION {
            return Err(format!(
                "Keep the question under {MAX_QUESTION} characters."
            ));
        }
        if unique.len() < 2 {
            return Err(
                "A poll needs at least two different choices, separated by `|` or `,`.".into(),
            );
        }
        if unique.len() > MAX_CHOICES {
            return Err(format!("A poll takes at most {MAX_CHOICES} choices."));
        }
        if let Some(long) = unique.iter().find(|c| c.chars().count() > MAX_CHOICE) {
            return Err(format!(
                "Choice \"{long}\" is longer than {MAX_CHOICE} characters."
            ));
        }
        Ok(Poll {
            question,
            choices: unique,
            votes: BTreeMap::new(),
            author,
            open: true,
        })
    }

    /// Records `user`'s vote for `choice` (its text, ignoring case, a unique prefix, or
    /// its number). Returns the choice voted for.
    pub fn vote(&mut self, user: u64, choice: &str) -> Result<String, String> {
        if !self.open {
            return Err("This poll is closed.".into());
        }
        let index = self.find(choice).ok_or_else(|| {
            format!(
                "\"{}\" is not a choice. Choices: {}.",
                choice.trim(),
                self.choices.join(", ")
            )
        })?;
        self.votes.insert(user, index);
        Ok(self.choices[index].clone())
    }

    fn find(&self, choice: &str) -> Option<usize> {
        let choice = choice.trim();
        if let Ok(n) = choice.parse::<usize>()
            && (1..=self.choices.len()).contains(&n)
        {
            return Some(n - 1);
        }
        let lower = choice.to_lowercase();
        if let Some(i) = self.choices.iter().position(|c| c.to_lowercase() == lower) {
            return Some(i);
        }
        let prefixed: Vec<usize> = (0..self.choices.len())
            .filter(|&i| !lower.is_empty() && self.choices[i].to_lowercase().starts_with(&lower))
            .collect();
        (prefixed.len() == 1).then(|| prefixed[0])
    }

    /// Choices containing `partial` (ignoring case), for autocomplete.
    pub fn suggest(&self, partial: &str) -> Vec<String> {
        let partial = partial.trim().to_lowercase();
        self.choices
            .iter()
            .filter(|c| c.to_lowercase().contains(&partial))
            .cloned()
            .collect()
    }

    pub fn counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.choices.len()];
        for &index in self.votes.values() {
            counts[index] += 1;
        }
        counts
    }

    /// The question and one bar per choice:
    /// `pizza  ████████░░░░░░░░░░░░  2 (40%)`.
    pub fn render(&self) -> String {
        let counts = self.counts();
        let total: usize = counts.iter().sum();
        let width = self
            .choices
            .iter()
            .map(|c| c.chars().count())
            .max()
            .unwrap_or(0);
        let mut out = format!(
            "**{}**{} ({} vote{})\n```\n",
            self.question,
            if self.open { "" } else { " [closed]" },
            total,
            if total == 1 { "" } else { "s" }
        );
        for (choice, count) in self.choices.iter().zip(&counts) {
            // Rounded shares; no votes yet means empty bars.
            let share = |scale: usize| (count * scale + total / 2).checked_div(total).unwrap_or(0);
            let (filled, percent) = (share(BAR), share(100));
            let pad = width - choice.chars().count();
            out.push_str(&format!(
                "{choice}{}  {}{}  {count} ({percent}%)\n",
                " ".repeat(pad),
                "█".repeat(filled),
                "░".repeat(BAR - filled)
            ));
        }
        out.push_str("```");
        out
    }

    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a poll serialises")
    }

    pub fn decode(bytes: &[u8]) -> Result<Poll, String> {
        serde_json::from_slice(bytes).map_err(|e| format!("stored poll unreadable: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slash_and_prefix_forms_parse() {
        let p = Poll::from_input("Lunch?", "pizza, sushi ,tacos", 1).unwrap();
        assert_eq!((p.question.as_str(), p.choices.len()), ("Lunch?", 3));
        let p = Poll::from_input("Where", "shall we eat? | pizza | sushi", 1).unwrap();
        assert_eq!(p.question, "Where shall we eat?");
        assert_eq!(p.choices, ["pizza", "sushi"]);
        let p = Poll::from_input("Best?", "a | b, c | A", 1).unwrap();
        assert_eq!(p.choices, ["a", "b, c"]);
    }

    #[test]
    fn bad_polls_are_refused_with_a_reason() {
        assert!(
            Poll::from_input("", "a,b", 1)
                .unwrap_err()
                .contains("question")
        );
        assert!(Poll::from_input("q", "a", 1).unwrap_err().contains("two"));
        assert!(Poll::from_input("q", "a,A", 1).unwrap_err().contains("two"));
        let many = (0..11).map(|i| i.to_string()).collect::<Vec<_>>().join(",");
        assert!(
            Poll::from_input("q", &many, 1)
                .unwrap_err()
                .contains("at most")
        );
    }

    #[test]
    fn votes_by_name_prefix_or_number_and_changes() {
        let mut p = Poll::from_input("q", "pizza, pasta, sushi", 1).unwrap();
        assert_eq!(p.vote(10, "PIZZA").unwrap(), "pizza");
        assert_eq!(p.vote(11, "su").unwrap(), "sushi");
        assert_eq!(p.vote(12, "2").unwrap(), "pasta");
        assert!(
            p.vote(13, "p").unwrap_err().contains("not a choice"),
            "ambiguous"
        );
        assert!(p.vote(13, "9").is_err());
        assert_eq!(p.vote(10, "sushi").unwrap(), "sushi");
        assert_eq!(p.counts(), [0, 1, 2]);
        p.open = false;
        assert!(p.vote(14, "pizza").unwrap_err().contains("closed"));
    }

    #[test]
    fn results_draw_bars_in_proportion() {
        let mut p = Poll::from_input("Lunch?", "pizza, sushi", 1).unwrap();
        for user in 0..3 {
            p.vote(user, "pizza").unwrap();
        }
        p.vote(9, "sushi").unwrap();
        let text = p.render();
        assert!(text.starts_with("**Lunch?** (4 votes)"), "{text}");
        assert!(text.contains(&format!(
            "pizza  {}{}  3 (75%)",
            "█".repeat(15),
            "░".repeat(5)
        )));
        assert!(text.contains(&format!(
            "sushi  {}{}  1 (25%)",
            "█".repeat(5),
            "░".repeat(15)
        )));
        let empty = Poll::from_input("q", "a, bb", 1).unwrap().render();
        assert!(
            empty.contains(&format!("a   {}  0 (0%)", "░".repeat(20))),
            "{empty}"
        );
    }

    #[test]
    fn suggestions_and_round_trip() {
        let mut p = Poll::from_input("q", "Pizza, pasta, sushi", 1).unwrap();
        assert_eq!(p.suggest("PA"), ["pasta"]);
        assert_eq!(p.suggest("").len(), 3);
        p.vote(5, "sushi").unwrap();
        assert_eq!(Poll::decode(&p.encode()).unwrap(), p);
        assert!(Poll::decode(b"{").is_err());
    }
}
