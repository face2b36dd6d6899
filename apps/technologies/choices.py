from django.db import models


class TechnologyDomain(models.TextChoices):
    AI_ML = "ai-ml", "AI / ML"
    DATA = "data", "Data"
    INFRASTRUCTURE = "infrastructure", "Infrastructure"
    DEVOPS = "devops", "DevOps"
    SECURITY = "security", "Security"
    BACKEND = "backend", "Backend"
    FRONTEND = "frontend", "Frontend"
    PERFORMANCE = "performance", "Performance"
    UI_UX = "ui-ux", "UI / UX"
    OTHER = "other", "Other"


class TechnologyStatus(models.TextChoices):
    DISCOVERY = "discovery", "Discovery"
    RESEARCH = "research", "Research"
    EVALUATION = "evaluation", "Evaluation"
    IMPLEMENTATION = "implementation", "Implementation"
    INTEGRATED = "integrated", "Integrated"
    ARCHIVED = "archived", "Archived"


class RadarRing(models.TextChoices):
    ADOPT = "adopt", "Adopt"
    TRIAL = "trial", "Trial"
    ASSESS = "assess", "Assess"
    HOLD = "hold", "Hold"
