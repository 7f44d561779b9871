"""What the tests share, by concern; tests import it from here, never from a conftest.py.

- ``cli``: okectl's command line run in-process (``run_cli`` → ``CliResult``), and the lines
  of a command that failed as it should (``clean_failure``).
- ``repos``: repositories from inline files (``write_tree``: each test shows its own YAML),
  the example repository (``PROJECT``, ``copy_example``, ``EXAMPLE_TODAY``, the day it
  describes, ``secret_values``), and the tiny valid repository each configuration test breaks
  in one place (``BASE``, ``delta_with``, ``school_yaml``).
- ``policy``: the policy tests' repository with a test's rules and edits (``build_repo``),
  evaluated as of a fixed day (``evaluate_policies``).
- ``git``: real git repositories (``GitRepo``, ``init_repo``) and the repository most
  git-aware tests start from (``BASE_FILES``).
- ``serving``: the sandbox as a real HTTP server on a free loopback port
  (``serve_in_background``, ``free_port``).
- ``sandbox``: what tests do with a served sandbox: its seed (``SEED``, ``write_seed``), the
  HTTP provider pointed at it (``Sandbox``, ``supplier``), faults (``faults``), and ``run``
  for a provider's coroutines.
- ``fake_supplier``: a tiny real supplier that answers what a test tells it to, for answers
  the sandbox never gives.
- ``hostile``: the hostile supplier (the sandbox behind a real server that echoes requests
  in every encoding, serves gzip bombs, endless bodies and trickles) and the folder of the
  hostile corpora (``HERE``); ``encodings``: every form a supplier may echo a secret in, and
  decoders that owe nothing to okectl's scrubber.
- ``verify``: the repository verify runs against (``FILES``), held by a served sandbox
  (``Served``, ``serve_repository``), and a verification run as the command runs it
  (``verify``).
- ``change_requests``: a repository with a supplier managed by change requests and the
  requests apply writes for it (``write_requests``); ``smtp``: the mailbox of a real SMTP
  server (aiosmtpd) change requests are sent to (``Inbox``).
- ``action``: the GitHub Action's steps (action.yml) run one by one as a runner runs them
  (``Runner``, ``ACTION``, ``STEPS``).
- ``drift_fleet``: a fleet under git applied to a served sandbox, and edits made by hand at
  the supplier (``Fleet``, ``Desk``, ``make_fleets``).
- ``github_api``: the stand-in for GitHub's REST API on loopback (the forge cannot run
  here); ``forge``: the incidents tests' forge, the incidents okectl derives and a
  verification record written by hand.
- ``browser``: the real headless browser (chromium) HTML is checked in.

Fixtures are thin wrappers over these, in the conftest.py of the folder that uses them, or
in ``tests/conftest.py`` when more than one folder does.
"""
