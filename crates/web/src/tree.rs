//! How a project's tasks are laid out on a page: subtasks under their parent,
//! tasks grouped by section (list and board) or by day (Upcoming), and who a
//! task is assigned to, in initials. Pure functions over what the services
//! returned, so they are tested without a database.
use std::collections::HashMap;

use chrono::NaiveDate;
use serde::Serialize;

use crate::view::{TaskView, day_label};

/// Rows in tree order: each task followed by its subtasks (in the order they
/// came, which is the store's manual order), with `depth`, `path` and the
/// "n of m done" counts set. A task whose parent is not among `tasks` (a
/// filtered view) stands at the top. Completed top-level tasks are left out
/// unless `keep_done_roots`; completed subtasks stay, so the count reads true.
pub fn nest(tasks: Vec<TaskView>, keep_done_roots: bool) -> Vec<TaskView> {
    let present: std::collections::HashSet<String> = tasks.iter().map(|t| t.id.clone()).collect();
    let mut children: HashMap<String, Vec<TaskView>> = HashMap::new();
    let mut roots = Vec::new();
    for t in tasks {
        match t.parent_id.clone().filter(|p| present.contains(p)) {
            Some(parent) => children.entry(parent).or_default().push(t),
            None => roots.push(t),
        }
    }
    let mut out = Vec::new();
    for root in roots.into_iter().filter(|r| keep_done_roots || !r.done) {
        place(root, 0, String::new(), &mut children, &mut out);
    }
    out
}

fn place(
    mut task: TaskView,
    depth: usize,
    path: String,
    children: &mut HashMap<String, Vec<TaskView>>,
    out: &mut Vec<TaskView>,
) {
    let kids = children.remove(&task.id).unwrap_or_default();
    task.depth = depth;
    task.subtasks_total = kids.len();
    task.subtasks_done = kids.iter().filter(|k| k.done).count();
    let child_path = if path.is_empty() { task.id.clone() } else { format!("{path}/{}", task.id) };
    task.path = path;
    out.push(task);
    for kid in kids {
        place(kid, depth + 1, child_path.clone(), children, out);
    }
}

/// A heading and its rows: a section of a project, or a day.
#[derive(Debug, Serialize)]
pub struct Group {
    /// A section's id, `none` for tasks in no section, or a date.
    pub key: String,
    pub label: String,
    /// The section's id when the group is one (what a drop there sets).
    pub section_id: Option<String>,
    pub tasks: Vec<TaskView>,
    /// Top-level tasks only: what the board shows as cards.
    pub cards: usize,
}

/// A section as the grouping needs it.
pub struct SectionRef {
    pub id: String,
    pub name: String,
}

/// Rows (in tree order) under their sections: tasks in no section first,
/// then every section in order, empty ones too (a board needs its columns).
/// A subtask goes with its top-level task, wherever its own section is.
pub fn by_section(rows: Vec<TaskView>, sections: &[SectionRef]) -> Vec<Group> {
    let mut groups: Vec<Group> = std::iter::once(Group {
        key: "none".into(),
        label: "No section".into(),
        section_id: None,
        tasks: vec![],
        cards: 0,
    })
    .chain(sections.iter().map(|s| Group {
        key: s.id.clone(),
        label: s.name.clone(),
        section_id: Some(s.id.clone()),
        tasks: vec![],
        cards: 0,
    }))
    .collect();
    let mut current = 0;
    for row in rows {
        if row.depth == 0 {
            current = row
                .section_id
                .as_ref()
                .and_then(|s| groups.iter().position(|g| g.section_id.as_ref() == Some(s)))
                .unwrap_or(0);
            groups[current].cards += 1;
        }
        groups[current].tasks.push(row);
    }
    groups
}

/// Tasks by the day they are due (`None`: not due), "Overdue" first for days
/// before `today`; days in order, each labelled relative to today.
pub fn by_day(items: Vec<(Option<NaiveDate>, TaskView)>, today: NaiveDate) -> Vec<Group> {
    let mut days: std::collections::BTreeMap<Option<NaiveDate>, Vec<TaskView>> = Default::default();
    for (day, task) in items {
        // Everything overdue reads as one group, not a day each.
        let key = day.map(|d| if d < today { NaiveDate::MIN } else { d });
        days.entry(key).or_default().push(task);
    }
    days.into_iter()
        .filter_map(|(day, tasks)| {
            let day = day?;
            let cards = tasks.len();
            let (key, label) = if day == NaiveDate::MIN {
                ("overdue".to_owned(), "Overdue".to_owned())
            } else {
                (day.to_string(), format!("{} · {}", day_label(day, today), day.format("%a %-d %b")))
            };
            Some(Group { key, label, section_id: None, tasks, cards })
        })
        .collect()
}

/// "Ada Lovelace" → "AL"; with no name, the e-mail's first letter.
pub fn initials(name: &str, email: &str) -> String {
    let from_name: String = name.split_whitespace().filter_map(|w| w.chars().next()).take(2).collect();
    let out = if from_name.is_empty() { email.chars().next().map(String::from).unwrap_or_default() } else { from_name };
    out.to_uppercase()
}

/// A member's name as pages show it: their name, else their e-mail; `None`
/// for someone no longer among `people` (user id → (name, e-mail)).
pub fn display_name(people: &HashMap<String, (String, String)>, user: ontask_domain::UserId) -> Option<String> {
    people.get(&user.to_string()).map(|(name, email)| if name.trim().is_empty() { email.clone() } else { name.clone() })
}

/// Puts each assignee's initials and name on the rows, from `people`
/// (user id → (name, e-mail)).
pub fn assignees(rows: &mut [TaskView], people: &HashMap<String, (String, String)>) {
    for row in rows {
        if let Some((name, email)) = row.assignee_id.as_ref().and_then(|a| people.get(a)) {
            row.assignee_initials = Some(initials(name, email));
            row.assignee_name = Some(if name.trim().is_empty() { email.clone() } else { name.clone() });
        }
    }
}

/// Marks the rows the viewer may only read: those of projects where they are
/// a viewer (`readonly_projects`).
pub fn mark_readonly(rows: &mut [TaskView], readonly_projects: &std::collections::HashSet<String>) {
    for row in rows {
        row.readonly = row.project_id.as_ref().is_some_and(|p| readonly_projects.contains(p));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use chrono_tz::Tz;

    fn task(title: &str, parent: Option<&TaskView>, section: Option<&str>, done: bool) -> TaskView {
        let draft = ontask_app::input::TaskInput { title: Some(title.into()), ..Default::default() }.parse().unwrap();
        let at = ontask_domain::Placement::project(ontask_domain::ProjectId::new());
        let t = ontask_domain::Task::create(ontask_domain::UserId::new(), at, draft, Utc::now()).unwrap();
        let mut v = crate::view::task_view(&(&t).into(), Tz::UTC, Utc::now(), false);
        v.parent_id = parent.map(|p| p.id.clone());
        v.section_id = section.map(str::to_owned);
        v.done = done;
        v
    }

    fn clone(t: &TaskView) -> TaskView {
        let mut c = task(&t.title, None, t.section_id.as_deref(), t.done);
        c.id = t.id.clone();
        c.parent_id = t.parent_id.clone();
        c
    }

    #[test]
    fn subtasks_follow_their_parent_with_depth_and_progress() {
        let a = task("a", None, None, false);
        let a1 = task("a1", Some(&a), None, true);
        let a2 = task("a2", Some(&a), None, false);
        let a11 = task("a11", Some(&a1), None, false);
        let b = task("b", None, None, false);
        let gone = task("gone", None, None, true);
        // Children may come before their parent in the store's order.
        let rows = nest(vec![clone(&a11), clone(&b), clone(&a2), clone(&a), clone(&a1), clone(&gone)], false);
        let titles: Vec<_> = rows.iter().map(|r| (r.title.as_str(), r.depth)).collect();
        assert_eq!(titles, [("b", 0), ("a", 0), ("a2", 1), ("a1", 1), ("a11", 2)]);
        let a_row = &rows[1];
        assert_eq!((a_row.subtasks_done, a_row.subtasks_total), (1, 2));
        assert_eq!(rows[4].path, format!("{}/{}", a.id, a1.id));
        assert!(rows[1].path.is_empty());
    }

    #[test]
    fn a_subtask_without_its_parent_stands_at_the_top() {
        let a = task("a", None, None, false);
        let a1 = task("a1", Some(&a), None, false);
        let rows = nest(vec![a1], false);
        assert_eq!(rows[0].depth, 0);
    }

    #[test]
    fn rows_go_under_their_sections_with_no_section_first() {
        let s =
            [SectionRef { id: "s1".into(), name: "Doing".into() }, SectionRef { id: "s2".into(), name: "Done".into() }];
        let a = task("a", None, Some("s1"), false);
        let a1 = task("a1", Some(&a), None, false);
        let b = task("b", None, None, false);
        let groups = by_section(nest(vec![clone(&a), clone(&a1), clone(&b)], false), &s);
        let shape: Vec<_> = groups
            .iter()
            .map(|g| (g.label.as_str(), g.tasks.iter().map(|t| t.title.as_str()).collect::<Vec<_>>()))
            .collect();
        assert_eq!(shape, [("No section", vec!["b"]), ("Doing", vec!["a", "a1"]), ("Done", vec![])]);
        assert_eq!(groups[1].cards, 1);
        assert_eq!(groups[1].section_id.as_deref(), Some("s1"));
    }

    #[test]
    fn days_group_with_overdue_first() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 24).unwrap();
        let d = |n: i64| Some(today + chrono::Duration::days(n));
        let items = vec![
            (d(1), task("tomorrow", None, None, false)),
            (d(-3), task("late", None, None, false)),
            (d(0), task("today", None, None, false)),
            (d(-1), task("later", None, None, false)),
            (None, task("someday", None, None, false)),
        ];
        let groups = by_day(items, today);
        let labels: Vec<_> = groups.iter().map(|g| g.label.as_str()).collect();
        assert_eq!(labels, ["Overdue", "Today · Tue 24 Nov", "Tomorrow · Wed 25 Nov"]);
        assert_eq!(groups[0].tasks.len(), 2);
    }

    #[test]
    fn initials_from_a_name_or_the_email() {
        assert_eq!(initials("Ada Lovelace", "ada@example.com"), "AL");
        assert_eq!(initials("grace brewster murray", "g@example.com"), "GB");
        assert_eq!(initials("  ", "sam@example.com"), "S");
    }
}
