# A warm yt-dlp for Minstrel's probes and searches: started once with the Python that
# runs yt-dlp, it answers one request per line, so each probe skips the interpreter's
# start and yt-dlp's import.
#
# Request (stdin): a JSON list, the same argument template the host gives the command
# line (`--ignore-config ... --dump-single-json ... -- TARGET`), parsed by yt-dlp itself.
# Answer (stdout): one JSON object per line, {"ok": "<yt-dlp's JSON>"} or
# {"error": "<what yt-dlp printed as errors>"}. Nothing else is ever written to stdout.
# "ready" is the first line, once yt-dlp is imported.
import io
import json
import sys

import yt_dlp
from yt_dlp.utils import DownloadError

answers = sys.stdout
logs = sys.stderr
sys.stdout = logs
answers.write("ready\n")
answers.flush()

for line in sys.stdin:
    captured, errors = io.StringIO(), io.StringIO()
    try:
        parsed = yt_dlp.parse_options(json.loads(line))
        # YoutubeDL takes its output streams when it starts: the JSON and the error
        # lines land here.
        sys.stdout, sys.stderr = captured, errors
        with yt_dlp.YoutubeDL(parsed.ydl_opts) as ydl:
            code = ydl.download(parsed.urls)
        if code == 0:
            answer = {"ok": captured.getvalue()}
        else:
            answer = {"error": errors.getvalue() or f"exit code {code}"}
    except DownloadError as error:
        answer = {"error": errors.getvalue() or str(error)}
    except BaseException as error:  # a bad argument exits; keep serving
        answer = {"error": f"{errors.getvalue()}\nERROR: {type(error).__name__}: {error}"}
    finally:
        sys.stdout, sys.stderr = logs, logs
    answers.write(json.dumps(answer) + "\n")
    answers.flush()
