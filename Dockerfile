FROM python:3.11-slim
# ffmpeg lets yt-dlp merge separate audio and video streams.
RUN apt-get update && apt-get install -y --no-install-recommends ffmpeg \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md ./
COPY poller ./poller
COPY api ./api
# The dependencies include yt-dlp[default] and deno, YouTube's JavaScript runtime: fail the
# build here, not the first YouTube download, if deno did not land beside python.
RUN pip install --no-cache-dir . && deno --version
# Not root. compose may run it as another user (TUBEPOLLER_UID): /data and
# /media are then the mounts that user owns.
RUN useradd --uid 1000 --user-group --create-home tubepoller \
    && mkdir -p /data /media && chown tubepoller:tubepoller /data /media
USER tubepoller
# Inside a container the API must listen on every interface, or `docker run
# -p 8080:8080` reaches nothing; publish it on 127.0.0.1 on the host unless
# you mean to expose it.
ENV TUBEPOLLER_DATA_DIR=/data TUBEPOLLER_MEDIA_DIR=/media TUBEPOLLER_API_BIND=0.0.0.0:8080
VOLUME ["/data", "/media"]
EXPOSE 8080
CMD ["tubepoller", "up"]
