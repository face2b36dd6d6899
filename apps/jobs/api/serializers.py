from rest_framework import serializers

from apps.jobs.models import Job


class JobSerializer(serializers.ModelSerializer[Job]):
    job_id = serializers.CharField(source="task_id", read_only=True)

    class Meta:
        model = Job
        fields = [
            "job_id",
            "name",
            "state",
            "args",
            "kwargs",
            "queue",
            "worker",
            "retries",
            "queued_at",
            "started_at",
            "finished_at",
            "duration",
            "result",
            "error",
        ]
        read_only_fields = fields


class JobAcceptedSerializer(serializers.Serializer[None]):
    job_id = serializers.CharField()
    status = serializers.CharField()
    url = serializers.CharField()
