//! The store API other commands build on (`find_session`, `side_files`, `tail_facts`,
//! `read_records`), over generated stores.
mod support;
use support::sessions as gen;

use std::path::PathBuf;

use ccsync::store;
use gen::{project_folder, SessionBuilder};
use support::TestEnv;

#[test]
fn side_files_of_both_layouts() {
    let env = TestEnv::new();
    let folder = project_folder(&env.claude_dir, &env.repo);
    let mine = SessionBuilder::new(&env.repo).version("2.0.77").turns(2);
    let other = SessionBuilder::new(&env.repo).version("2.0.77").turns(1);
    mine.write_to(&folder);
    other.write_to(&folder);
    mine.write_agent_2_0(&folder, "11aa22bb", "main");
    other.write_agent_2_0(&folder, "33cc44dd", "main");
    let mut want = mine.write_side_folder_2_1(&folder, "a77");
    want.push(PathBuf::from("agent-11aa22bb.jsonl"));
    want.sort();

    let session = store::find_session(&env.claude_dir, &env.repo, &mine.id)
        .unwrap()
        .expect("found");
    assert_eq!(session.path, folder.join(format!("{}.jsonl", mine.id)));
    assert_eq!(store::side_files(&session).unwrap(), want);

    let session = store::find_session(&env.claude_dir, &env.repo, &other.id)
        .unwrap()
        .unwrap();
    assert_eq!(
        store::side_files(&session).unwrap(),
        vec![PathBuf::from("agent-33cc44dd.jsonl")]
    );
}

#[test]
fn find_session_respects_the_repository() {
    let env = TestEnv::new();
    let sub = env.repo.join("pkg");
    let sibling = PathBuf::from(format!("{}-old", env.repo.display()));
    let in_sub = SessionBuilder::new(&sub).turns(1);
    let in_sibling = SessionBuilder::new(&sibling).turns(1);
    in_sub.write_to(&project_folder(&env.claude_dir, &sub));
    in_sibling.write_to(&project_folder(&env.claude_dir, &sibling));

    let found = store::find_session(&env.claude_dir, &env.repo, &in_sub.id)
        .unwrap()
        .unwrap();
    assert_eq!(found.cwd.as_deref(), Some(sub.to_str().unwrap()));
    assert_eq!(found.branch.as_deref(), Some("main"));
    assert!(
        store::find_session(&env.claude_dir, &env.repo, &in_sibling.id)
            .unwrap()
            .is_none()
    );
    assert!(
        store::find_session(&env.claude_dir, &env.repo, &gen::new_id())
            .unwrap()
            .is_none()
    );
    let err = store::find_session(&env.claude_dir, &env.repo, "../../etc/passwd").unwrap_err();
    assert_eq!(ccsync::exit::code_for(&err), ccsync::exit::Code::Usage);
}

#[test]
fn reader_and_tail_agree_with_the_reference_on_generated_files() {
    let env = TestEnv::new();
    let folder = project_folder(&env.claude_dir, &env.repo);
    let session = SessionBuilder::new(&env.repo)
        .turns(3)
        .branch("dev")
        .tool_result(200_000)
        .assistant("x")
        .glue_last_two()
        .trailing_metadata()
        .torn_tail();
    let path = session.write_to(&folder);
    let (branch, last, count) = gen::reference_facts(&path);
    let facts = store::tail_facts(&path).unwrap();
    assert_eq!(facts.branch, branch);
    assert_eq!(facts.last_activity, Some(session.last_timestamp()));
    assert_eq!(facts.session_id.as_deref(), Some(session.id.as_str()));
    assert_eq!(store::count_records(&path).unwrap(), count);
    assert_eq!(last, Some(session.last_timestamp()));

    let mut uuids = Vec::new();
    let summary = store::read_records(
        std::io::BufReader::new(std::fs::File::open(&path).unwrap()),
        |r| {
            if let Some(u) = r.fields().uuid {
                uuids.push(u.into_owned());
            }
            Ok(())
        },
    )
    .unwrap();
    assert_eq!(uuids, session.uuids);
    assert_eq!(summary.records, count);
    assert_eq!(summary.unparsable, vec![session.line_count() as u64]);
}
