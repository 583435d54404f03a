"""After `sam build`: every function has a bootstrap, and it is a Linux executable for arm64,
built with the functions' own features: `sam build` runs `cargo lambda build --bin <function>`
without `-p`, so the workspace's default members decide which features are unified."""

import pathlib
import subprocess
import sys

BUILD = pathlib.Path(__file__).resolve().parents[2] / ".aws-sam" / "build"
FUNCTIONS = ["OAuthCallbackFunction", "DatasetLookupFunction", "TokenFetchFunction", "OffboardingFunction"]
EM_AARCH64 = 183

problems = []
for function in FUNCTIONS:
    bootstrap = BUILD / function / "bootstrap"
    if not bootstrap.is_file():
        problems.append(f"{function}: no bootstrap")
        continue
    header = bootstrap.read_bytes()[:20]
    machine = int.from_bytes(header[18:20], "little")
    if header[:4] != b"\x7fELF" or machine != EM_AARCH64:
        problems.append(f"{function}: not an arm64 ELF executable (e_machine {machine})")
    else:
        print(f"{function}: arm64 bootstrap, {bootstrap.stat().st_size} bytes")

ROOT = BUILD.parents[1]
# Features the test tools turn on that a deployed function must not carry (they cost start time).
UNWANTED = {"aws-config": ["default-https-client"], "tokio": ["signal", "process"]}
for crate, features in UNWANTED.items():
    tree = subprocess.run(
        ["cargo", "tree", "--edges", "features", "--invert", crate],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout
    for feature in features:
        if f'{crate} feature "{feature}"' in tree:
            problems.append(f"a build without -p gives {crate} the feature {feature}")
if problems:
    sys.exit("\n".join(problems))
