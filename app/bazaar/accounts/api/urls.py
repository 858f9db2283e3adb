from django.urls import path

from . import views

urlpatterns = [
    path("register/", views.RegisterView.as_view(), name="auth-register"),
    path("token/", views.TokenView.as_view(), name="auth-token"),
    path("token/refresh/", views.RefreshView.as_view(), name="auth-token-refresh"),
    path("me/", views.ProfileView.as_view(), name="auth-me"),
    path("me/addresses/", views.AddressListView.as_view(), name="address-list"),
    path("me/addresses/<int:pk>/", views.AddressDetailView.as_view(), name="address-detail"),
]
