"""The video id yt-dlp takes from each URL on stdin (one a line), printed one a line
(`-`: none).

This is what `yt-dlp --no-playlist URL` would download, decided from the URL alone:
yt-dlp's own extractor dispatch (its URL patterns, the generic extractor's `https://` for
a URL without a scheme, the playlist extractors handing a video URL to the video
extractor), with the video extractor stopping at the id it matched. A URL that yt-dlp can
only resolve by fetching a page names no video by itself: fetching is refused here.
"""

import sys

import yt_dlp
from yt_dlp.extractor.youtube import YoutubeIE
from yt_dlp.utils import DownloadError


class Fetch(Exception):
    """yt-dlp asked for a page."""


class Offline(yt_dlp.YoutubeDL):
    def urlopen(self, req):
        raise Fetch()


class Silent:
    def debug(self, msg):
        pass

    info = warning = error = debug


def matched_id(self, url):
    return {'id': self._match_id(url), 'title': ''}


YoutubeIE._real_extract = matched_id
ydl = Offline({'noplaylist': True, 'logger': Silent()})


def video_id(url):
    # yt-dlp's command line strips each URL it is given.
    url, ie_key = url.strip(), None
    # A few hand-overs at most (generic -> youtu.be -> tab -> video).
    for _ in range(5):
        try:
            result = ydl.extract_info(url, download=False, process=False, ie_key=ie_key)
        except (DownloadError, Fetch):
            return None
        if result is None:
            return None
        if result.get('_type') in ('url', 'url_transparent'):
            url, ie_key = result['url'], result.get('ie_key')
            continue
        return result['id'] if result.get('extractor_key') == YoutubeIE.ie_key() else None
    return None


for line in sys.stdin.read().split('\n'):
    print(video_id(line) or '-')
