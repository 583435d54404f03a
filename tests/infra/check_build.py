"""After `sam build`: every function has a bootstrap, and it is a Linux executable for arm64."""

import pathlib
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
if problems:
    sys.exit("\n".join(problems))
