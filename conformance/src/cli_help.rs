//! The "Examples" and "Exit status" sections of `--help`: what a user copies first and what a
//! script tests, next to the options they explain.

/// `jim-conformance server --help`.
pub const SERVER: &str = "\
Examples:
  jim-conformance server --spawn \"python3 server.py -p {port}\" --profile lesson3
  jim-conformance server --port 7777 --profile spec --json report.json
  jim-conformance server --spawn \"python3 server.py -p {port}\" --only 'rooms/*' --lang ru
  jim-conformance server --port 7777 --json - | python3 -m json.tool
  jim-conformance server --spawn \"python3 server.py -p {port}\" --accounts accounts.txt

Exit status:
  0  every required case passes
  1  a case that fails the run (a must, a should with --strict, a death)
  2  usage or fixture error, an empty selection, or a server that admits only registered
     users judged without --accounts
  3  the server cannot be reached: it does not start, exits, or never listens";

/// `jim-conformance client --help`.
pub const CLIENT: &str = "\
Examples:
  jim-conformance client --spawn \"python3 client.py {host} {port}\" --profile client-lesson3
  jim-conformance client --spawn \"python3 client.py {host} {port} -n {name}\" --profile client-interactive --stdin 'hello\\n'
  jim-conformance client --spawn \"python3 client.py {host} {port}\" --junit report.xml

Exit status:
  0  every required case passes
  1  a case that fails the run
  2  usage or fixture error, or an empty selection
  3  the client cannot be started or never connects";

/// `jim-conformance explore --help`.
pub const EXPLORE: &str = "\
Examples:
  jim-conformance explore --spawn \"python3 server.py -p {port}\" --sessions 50
  jim-conformance explore --port 7777 --seed 42

Exit status:
  0  every session agreed with the model
  1  a session disagreed: the shrunk steps, a Python script and jim-client commands are printed
  2  usage error
  3  the server cannot be reached";

/// `jim-conformance grade --help`.
pub const GRADE: &str = "\
Examples:
  jim-conformance grade --roster roster.csv --assignment lesson3 --out grades
  jim-conformance grade --roster roster.toml --assignment my-assignment.toml --jobs 4 --lang ru
  jim-conformance grade --roster roster.csv --assignment messenger --only s07 --no-cache

Outputs (under --out): index.html (the class), students/ID.html, grades.csv, grades.json,
gradescope/ID/results.json, classroom/ID.json. Built-in assignments: lesson3, messenger.

Exit status:
  0  the class was graded (whatever the scores)
  1  a program could not be graded for a reason that is not the student's (see its line)
  2  usage error: the roster, the assignment or the output directory";

/// `jim-conformance completions --help`.
pub const COMPLETIONS: &str = "\
Examples:
  jim-conformance completions bash > ~/.local/share/bash-completion/completions/jim-conformance
  jim-conformance completions zsh > \"${fpath[1]}/_jim-conformance\"
  jim-conformance completions fish > ~/.config/fish/completions/jim-conformance.fish";
