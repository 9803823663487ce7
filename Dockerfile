FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 DJANGO_SETTINGS_MODULE=refundtool.settings
WORKDIR /app
COPY requirements.lock .
RUN pip install --no-cache-dir --require-hashes -r requirements.lock
COPY . .
RUN DJANGO_DEBUG=1 python manage.py collectstatic --noinput --verbosity 0
RUN useradd --system --uid 1000 refundtool && mkdir -p /app/var && chown refundtool /app/var
USER refundtool
EXPOSE 8000
CMD ["python", "-m", "refundtool.web", "--host", "0.0.0.0", "--port", "8000", "--access-log"]
