"""Monitoring and analytics for the video generation platform."""
