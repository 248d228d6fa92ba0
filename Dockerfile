FROM python:3.11-slim
# ffmpeg lets yt-dlp merge separate audio and video streams.
RUN apt-get update && apt-get install -y --no-install-recommends ffmpeg \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md ./
COPY poller ./poller
COPY api ./api
RUN pip install --no-cache-dir .
ENV TUBEPOLLER_DATA_DIR=/data TUBEPOLLER_MEDIA_DIR=/media
VOLUME ["/data", "/media"]
EXPOSE 8080
CMD ["tubepoller", "up"]
