from typing import Any

from django.core.management.base import BaseCommand

from apps.core.demo import load_demo


class Command(BaseCommand):
    help = "Load the demo data set (repositories, technologies, research tasks). Safe to run twice."

    def handle(self, *args: Any, **options: Any) -> None:
        counts = load_demo()
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo data loaded: {counts.repositories} repositories, {counts.technologies} technologies, "
                f"{counts.research_tasks} research tasks."
            )
        )
